"""Flow control: what a user of each option sees, through the real server and the real SDK.

Timing is asserted only as ordering, overlap or lower bounds (the app's clock, journaled
in the step bodies); deadlines are generous bounded polls. Throttle, batch timeouts and
singleton skip are tested in fake time by ``tests/service/test_flow.py``.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
import uuid
from typing import Any

import pytest

from .apps.flow_app import DEBOUNCE_PERIOD_SECONDS, FUNCTION_IDS
from .harness import ROOT, InletServer, Records, SdkApp, Stack, free_port, wait_for

pytestmark = pytest.mark.acceptance

# Slack for the app's and the server's clocks and dispatch delays in lower bounds.
SLACK = 0.15


class FlowStack:
    """The inlet server with the ``accept-flow`` app synced to it."""

    def __init__(self, stack: Stack) -> None:
        port = free_port()
        self.records: Records = stack.records
        self.app: SdkApp = stack.app("apps.flow_app:app", server_url=f"http://127.0.0.1:{port}")
        self.server: InletServer = stack.server([self.app.url], port=port)
        self.server.wait_functions(FUNCTION_IDS)

    def event(self, event_id: str) -> dict[str, Any]:
        resp = self.server.http.get(f"/v1/events/{event_id}")
        assert resp.status_code == 200, f"GET event {event_id}: {resp.status_code} {resp.text}"
        data: dict[str, Any] = resp.json()["data"]
        return data

    def skips(self, event_id: str) -> list[dict[str, Any]]:
        skipped: list[dict[str, Any]] = self.event(event_id)["inlet"]["skipped"]
        return skipped

    def wait_skip(self, event_id: str, timeout: float = 30.0) -> dict[str, Any]:
        """The one skip recorded for ``event_id`` (waiting for it to appear)."""
        skips = wait_for(
            lambda: self.skips(event_id),
            timeout,
            f"a skip recorded for event {event_id}",
            interval=0.2,
            describe=lambda: json.dumps(self.event(event_id))[:2000],
        )
        assert len(skips) == 1, skips
        return skips[0]

    def spans(self, fn: str, key: str) -> list[dict[str, Any]]:
        """Journaled step bodies of ``fn`` for ``key``, in order of start."""
        return sorted(self.records.find("span", fn=fn, key=key), key=lambda r: r["t_start"])


@pytest.fixture
def flow(stack: Stack) -> FlowStack:
    return FlowStack(stack)


def _overlap(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return max(a["t_start"], b["t_start"]) < min(a["t_end"], b["t_end"])


def _completed(flow: FlowStack, event_ids: list[str], timeout: float = 60.0) -> list[Any]:
    runs = []
    for event_id in event_ids:
        (run,) = flow.server.runs_for_event(event_id, timeout=timeout)
        assert run["status"] == "Completed", run
        runs.append(run)
    return runs


# --- concurrency ---------------------------------------------------------------------------


@pytest.mark.timeout(120)
def test_with_concurrency_one_the_step_bodies_of_five_runs_never_overlap(flow: FlowStack) -> None:
    key = uuid.uuid4().hex
    ids = flow.server.send(
        *({"name": "flow/serial", "data": {"key": key, "i": i}} for i in range(5))
    )

    _completed(flow, ids)

    spans = flow.spans("serial", key)
    assert len(spans) == 5, spans
    for before, after in itertools.pairwise(spans):
        assert after["t_start"] >= before["t_end"], f"step bodies overlap: {before} {after}"


@pytest.mark.timeout(120)
def test_keyed_concurrency_overlaps_runs_of_different_keys_but_never_of_the_same_key(
    flow: FlowStack,
) -> None:
    key = uuid.uuid4().hex
    alice, bob = f"alice-{key}", f"bob-{key}"
    ids = flow.server.send(
        *(
            {"name": "flow/per-user", "data": {"key": key, "user": user}}
            for user in (alice, bob, alice, bob)
        )
    )

    _completed(flow, ids)

    spans = flow.spans("per-user", key)
    assert len(spans) == 4, spans
    by_user = {u: [s for s in spans if s["data"]["user"] == u] for u in (alice, bob)}
    for user, own in by_user.items():
        assert len(own) == 2, own
        assert not _overlap(*own), f"two runs of {user} overlapped: {own}"
    assert any(_overlap(a, b) for a in by_user[alice] for b in by_user[bob]), (
        f"no run of {alice} overlapped a run of {bob}: {spans}"
    )


# --- throttle and rate limit ----------------------------------------------------------------


@pytest.mark.timeout(120)
def test_a_rate_limit_of_one_per_minute_runs_the_first_of_three_events_and_skips_the_rest(
    flow: FlowStack,
) -> None:
    key = uuid.uuid4().hex
    ids = [flow.server.send_one("flow/rate-limited", {"key": key, "i": i}) for i in range(3)]

    (run,) = _completed(flow, ids[:1])

    assert run["output"] == {"key": key, "i": 0}
    for event_id in ids[1:]:
        skip = flow.wait_skip(event_id)
        assert skip["function_id"] == "accept-flow-rate-limited", skip
        assert "rate limit" in skip["reason"], skip
        assert flow.server.runs(event_id) == []
        assert flow.event(event_id)["inlet"]["runs"] == []
    assert flow.records.count("run", fn="rate-limited", key=key) == 1


# --- debounce and batching ------------------------------------------------------------------


@pytest.mark.timeout(120)
def test_debounce_runs_once_with_the_last_of_three_quick_events_and_the_others_show_debounced(
    flow: FlowStack,
) -> None:
    key = uuid.uuid4().hex
    ids = [flow.server.send_one("flow/debounced", {"key": key, "n": n}) for n in (1, 2, 3)]
    last_sent = time.time()

    (run,) = _completed(flow, ids[2:])

    assert run["output"] == {"key": key, "n": 3}
    (execution,) = flow.records.find("run", fn="debounced", key=key)
    assert execution["data"] == {"key": key, "n": 3}
    assert execution["t"] >= last_sent + DEBOUNCE_PERIOD_SECONDS - SLACK, (last_sent, execution)
    for event_id in ids[:2]:
        skip = flow.wait_skip(event_id)
        assert skip["function_id"] == "accept-flow-debounced", skip
        assert "debounced" in skip["reason"], skip
        assert flow.server.runs(event_id) == []


@pytest.mark.timeout(120)
def test_a_batch_of_max_three_starts_one_run_that_receives_all_three_events(
    flow: FlowStack,
) -> None:
    key = uuid.uuid4().hex
    ids = [flow.server.send_one("flow/batch-size", {"key": key, "n": n}) for n in (1, 2, 3)]

    # The batch timeout is 60 s: a run within 30 s can only come from a full batch.
    runs = [flow.server.runs_for_event(e, timeout=30.0)[0] for e in ids]

    assert len({r["run_id"] for r in runs}) == 1, runs
    assert runs[0]["status"] == "Completed", runs[0]
    assert runs[0]["output"] == {
        "count": 3,
        "events": [{"key": key, "n": n} for n in (1, 2, 3)],
    }
    assert flow.records.count("run", fn="batch-size", key=key) == 1


# --- priority -------------------------------------------------------------------------------


@pytest.mark.timeout(120)
def test_priority_starts_the_higher_priority_runs_of_a_backlog_first(flow: FlowStack) -> None:
    key = uuid.uuid4().hex
    # Concurrency 1: while this run's step holds the only slot, the others queue up.
    blocker = flow.server.send_one("flow/prioritised", {"key": key, "p": 0, "hold": 3.0})
    wait_for(
        lambda: flow.records.count("start", fn="prioritised", key=key),
        30.0,
        "the blocking run's step to start",
    )
    # Sent lowest priority first, so first-in-first-out would give the reverse order.
    priorities = [0, 150, 300, 450]
    backlog = [
        flow.server.send_one("flow/prioritised", {"key": key, "p": p, "hold": 0.05})
        for p in priorities
    ]
    assert flow.records.count("span", fn="prioritised", key=key) == 0, "backlog did not build"

    _completed(flow, [blocker, *backlog])

    spans = flow.spans("prioritised", key)
    started = [s["data"]["p"] for s in spans if s["data"]["hold"] != 3.0]
    assert started == sorted(priorities, reverse=True), spans


# --- idempotency and event ids --------------------------------------------------------------


@pytest.mark.timeout(120)
def test_two_events_with_the_same_idempotency_key_start_one_run_and_the_second_shows_the_skip(
    flow: FlowStack,
) -> None:
    key = uuid.uuid4().hex
    first = flow.server.send_one("flow/idempotent", {"key": key, "id": key, "n": 1})
    second = flow.server.send_one("flow/idempotent", {"key": key, "id": key, "n": 2})

    (run,) = _completed(flow, [first])

    assert run["output"] == {"key": key, "id": key, "n": 1}
    skip = flow.wait_skip(second)
    assert skip["function_id"] == "accept-flow-idempotent", skip
    assert "idempotency" in skip["reason"], skip
    assert flow.server.runs(second) == []
    assert flow.records.count("run", fn="idempotent", key=key) == 1


@pytest.mark.timeout(120)
def test_two_events_with_the_same_event_id_start_one_run(flow: FlowStack) -> None:
    key = uuid.uuid4().hex
    first, second = (
        flow.server.send(
            {"name": "flow/plain", "id": f"dedupe-{key}", "data": {"key": key, "n": n}}
        )[0]
        for n in (1, 2)
    )

    (run,) = _completed(flow, [first])

    assert run["output"] == {"key": key, "n": 1}
    time.sleep(1.0)  # a duplicate run, if wrongly created, would have started by now
    assert flow.records.count("run", fn="plain", key=key) == 1
    # Each event is stored (its own internal id); only the first one starts a run.
    assert second != first
    assert flow.server.runs(second) == []
    skip = flow.wait_skip(second)
    assert skip["function_id"] == "accept-flow-plain", skip
    assert run["run_id"] in skip["reason"], skip


# --- singleton ------------------------------------------------------------------------------


@pytest.mark.timeout(120)
def test_singleton_cancel_cancels_the_sleeping_run_and_the_new_one_completes(
    flow: FlowStack,
) -> None:
    key = uuid.uuid4().hex
    event = "flow/singleton-cancel"
    first = flow.server.send_one(event, {"key": key, "n": 1, "sleep": 30})
    wait_for(
        lambda: flow.records.count("begin", fn="singleton-cancel", key=key, n=1),
        30.0,
        "the first run to begin",
    )
    second = flow.server.send_one(event, {"key": key, "n": 2, "sleep": 0})

    (new,) = _completed(flow, [second])
    assert new["output"] == {"n": 2}
    (old,) = flow.server.runs_for_event(first, timeout=30.0)
    assert old["status"] == "Cancelled", old
    assert flow.records.count("finish", fn="singleton-cancel", key=key, n=1) == 0


# --- the CLI --------------------------------------------------------------------------------


@pytest.mark.timeout(120)
def test_inlet_events_show_prints_why_an_event_did_not_start_a_run(flow: FlowStack) -> None:
    key = uuid.uuid4().hex
    ran = flow.server.send_one("flow/rate-limited", {"key": key, "i": 0})
    skipped = flow.server.send_one("flow/rate-limited", {"key": key, "i": 1})
    _completed(flow, [ran])
    reason = flow.wait_skip(skipped)["reason"]

    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("INNGEST_", "INLET_", "PYTEST_"))
    }
    pythonpath = [str(ROOT / "src"), env.get("PYTHONPATH", "")]
    # Wide enough that the table does not wrap the reason over several lines.
    env.update(PYTHONPATH=os.pathsep.join(p for p in pythonpath if p), COLUMNS="300")
    argv = [sys.executable, "-m", "inlet", "events", "show", skipped, "--url", flow.server.url]
    done = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)

    assert done.returncode == 0, done
    assert skipped in done.stdout, done.stdout
    assert "accept-flow-rate-limited" in done.stdout, done.stdout
    assert reason in done.stdout, done.stdout
    assert "rate limit" in reason
