"""Retries with the real SDK: flaky steps recover and NonRetriableError fails at once.
``retries=0``, Retry-After and the backoff table are tested in fake time by
``tests/service/test_retries.py``."""

from __future__ import annotations

import time
import uuid

import pytest

from .harness import CoreStack

pytestmark = pytest.mark.acceptance

# With --retry-interval 0.2, any retry the server wrongly scheduled would happen well within this.
SETTLE_SECONDS = 2.0


@pytest.mark.timeout(90)
def test_a_step_that_fails_twice_is_retried_and_the_run_completes(core: CoreStack) -> None:
    key = uuid.uuid4().hex
    event_id = core.server.send_one("accept/flaky", {"key": key})

    (run,) = core.server.runs_for_event(event_id)

    assert run["status"] == "Completed", run
    # ctx.attempt is per queue item, so the step's third attempt is attempt 2.
    assert run["output"] == {"attempt": 2, "executions": 3}
    executions = core.records.find("step", fn="flaky", key=key)
    assert [e["attempt"] for e in executions] == [0, 1, 2]
    rows = core.server.history(run["run_id"])
    assert {0, 1, 2} <= {r["attempt"] for r in rows}, rows


@pytest.mark.timeout(90)
def test_a_non_retriable_error_fails_the_run_after_one_attempt(core: CoreStack) -> None:
    key = uuid.uuid4().hex
    event_id = core.server.send_one("accept/non-retriable", {"key": key})

    (run,) = core.server.runs_for_event(event_id)

    assert run["status"] == "Failed", run
    time.sleep(SETTLE_SECONDS)
    assert core.records.count("exec", fn="non-retriable", key=key) == 1
    rows = core.server.history(run["run_id"])
    assert len(rows) == 1, rows
    assert "give up now" in str(rows[0].get("error")), rows
