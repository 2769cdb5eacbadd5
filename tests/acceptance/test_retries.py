"""Retries: flaky steps recover, retries=0 and NonRetriableError fail at once, Retry-After waits."""

from __future__ import annotations

import time
import uuid

import pytest

from .apps.common import RETRY_AFTER_SECONDS
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
def test_a_function_with_retries_zero_fails_after_exactly_one_attempt(core: CoreStack) -> None:
    key = uuid.uuid4().hex
    event_id = core.server.send_one("accept/no-retries", {"key": key})

    (run,) = core.server.runs_for_event(event_id)

    assert run["status"] == "Failed", run
    time.sleep(SETTLE_SECONDS)
    assert core.records.count("exec", fn="no-retries", key=key) == 1
    rows = core.server.history(run["run_id"])
    assert [r["attempt"] for r in rows] == [0], rows
    assert core.server.run(run["run_id"])["status"] == "Failed"


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


@pytest.mark.timeout(90)
def test_a_retry_after_error_delays_the_retry_by_at_least_the_requested_time(
    core: CoreStack,
) -> None:
    key = uuid.uuid4().hex
    event_id = core.server.send_one("accept/retry-after", {"key": key})

    (run,) = core.server.runs_for_event(event_id)

    assert run["status"] == "Completed", run
    assert run["output"] == {"executions": 2}
    first, second = core.records.find("exec", fn="retry-after", key=key)
    # The SDK sends Retry-After as an ISO time with millisecond precision.
    assert second["t"] - first["t"] >= RETRY_AFTER_SECONDS - 0.01, (first, second)
