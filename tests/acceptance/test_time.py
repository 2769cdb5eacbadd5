"""Time and control with the real SDK: a durable sleep, a wait for an event, invokes,
events sent from steps, and cancellation (API and CLI).

The rest of the time behaviour (sleep until, wait and invoke timeouts, cancellation by
event, by API and in bulk, run timeouts) is tested in fake time by
``tests/service/test_time.py``, without sleeping.

Times are measured inside the app (memoised step outputs), so a lower bound such as "not
before 2 s" is exact; upper bounds are generous.

``timeouts.start`` is tested in ``test_start_timeout.py``: a run counts as started as soon
as its first call is claimed, so only flow control (a throttle) keeps one queued long enough.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from typing import Any

import pytest

from .harness import CoreStack, InletServer, Stack, start_app_stack, wait_for

pytestmark = pytest.mark.acceptance

TIME_FUNCTIONS = [
    f"accept-time-{fn}"
    for fn in (
        "sleeper",
        "sleep-until",
        "waiter",
        "child-add",
        "child-fail",
        "child-slow",
        "invoker",
        "bridge",
        "bridged",
        "cancellable",
        "finish-timeout",
    )
]
CANCELLABLE_SLEEP = 4.0


@pytest.fixture
def timed(stack: Stack) -> CoreStack:
    """The inlet server with the ``accept-time`` app synced to it."""
    return start_app_stack(stack, "apps.time_app:app", TIME_FUNCTIONS)


def _key() -> str:
    return uuid.uuid4().hex


def _start(server: InletServer, name: str, **data: Any) -> dict[str, Any]:
    """Send one event and return the run it starts (not waiting for the run to end)."""
    event_id = server.send_one(name, data)
    (run,) = server.runs_for_event(event_id, ended=False)
    return run


def wait_parked(server: InletServer, run_id: str, step: str, timeout: float = 30) -> None:
    """Wait until the server has recorded that the run is sleeping/waiting in ``step``."""
    server.wait_history(
        run_id,
        lambda rows: any(r["name"] == step and r["outcome"] == "waiting" for r in rows),
        f"step {step!r} to be parked",
        timeout,
    )


def wait_ended(server: InletServer, run_id: str, timeout: float = 60) -> dict[str, Any]:
    return server.wait_run(
        run_id,
        lambda r: r["status"] in ("Completed", "Failed", "Cancelled"),
        "the run to end",
        timeout,
    )


def system_events(server: InletServer, name: str, run_id: str) -> list[dict[str, Any]]:
    resp = server.http.get("/v1/events", params={"name": name, "limit": 1000})
    assert resp.status_code == 200, resp.text
    return [e for e in resp.json()["data"] if (e.get("data") or {}).get("run_id") == run_id]


def assert_cancelled_quietly(
    timed: CoreStack, run: dict[str, Any], fn: str, key: str, sleep_ends_at: float
) -> None:
    """The run ended Cancelled, emitted its system events and made no further calls, even
    after its sleep would have ended."""
    server, records = timed.server, timed.records
    run_id = run["run_id"]
    assert run["status"] == "Cancelled", run
    cancelled_seen = time.time()
    wait_for(
        lambda: time.time() > sleep_ends_at + 2.0,
        sleep_ends_at - time.time() + 10,
        "the cancelled run's sleep to be long over",
    )
    assert records.count("step", fn=fn, step="after", key=key) == 0, records.find("step", key=key)
    late_calls = [c for c in records.find("call", run_id=run_id) if c["t"] > cancelled_seen]
    assert not late_calls, f"calls made after the run was cancelled: {late_calls}"
    assert server.run(run_id)["status"] == "Cancelled"
    wait_for(
        lambda: (
            system_events(server, "inngest/function.cancelled", run_id)
            and system_events(server, "inngest/function.finished", run_id)
        ),
        10,
        f"inngest/function.cancelled and .finished for run {run_id}",
    )
    (cancelled,) = system_events(server, "inngest/function.cancelled", run_id)
    assert cancelled["data"]["_inngest"]["status"] == "Cancelled", cancelled
    assert cancelled["data"]["function_id"] == f"accept-time-{fn}", cancelled


# --- sleeps -------------------------------------------------------------------------------


@pytest.mark.timeout(90)
def test_a_two_second_sleep_resumes_no_sooner_than_two_seconds_later_and_the_run_completes(
    timed: CoreStack,
) -> None:
    key = _key()
    event_id = timed.server.send_one("time/sleep", {"key": key, "seconds": 2})

    (run,) = timed.server.runs_for_event(event_id)

    assert run["status"] == "Completed", run
    out = run["output"]
    slept = out["after"] - out["before"]
    assert slept >= 2.0, f"resumed after {slept:.3f}s, before the 2 s sleep ended"
    assert slept < 30, f"resumed only after {slept:.3f}s"
    assert timed.records.count("step", fn="sleeper", step="before", key=key) == 1
    assert timed.records.count("step", fn="sleeper", step="after", key=key) == 1


# --- waits --------------------------------------------------------------------------------


@pytest.mark.timeout(90)
def test_a_wait_ignores_an_event_for_another_id_and_resumes_with_the_matching_event(
    timed: CoreStack,
) -> None:
    server = timed.server
    key, other = _key(), _key()
    run = _start(server, "time/wait", key=key, id=key, timeout_s=60)
    wait_parked(server, run["run_id"], "wait")

    server.send_one("time/go", {"key": other, "id": other, "which": "wrong"})
    time.sleep(2.0)
    assert server.run(run["run_id"])["status"] == "Running", server.run(run["run_id"])
    assert timed.records.count("waited", key=key) == 0
    match_id = server.send_one("time/go", {"key": key, "id": key, "which": "right"})

    done = wait_ended(server, run["run_id"])

    assert done["status"] == "Completed", done
    received = done["output"]["received"]
    assert received["name"] == "time/go", received
    assert received["data"] == {"key": key, "id": key, "which": "right"}, received
    assert received["id"] == match_id, received
    (waited,) = timed.records.find("waited", key=key)
    assert waited["received"] == received


# --- invoke -------------------------------------------------------------------------------


@pytest.mark.timeout(90)
def test_invoke_returns_the_invoked_functions_result(timed: CoreStack) -> None:
    key = _key()
    event_id = timed.server.send_one("time/invoke", {"key": key, "target": "add"})

    (run,) = timed.server.runs_for_event(event_id)

    assert run["status"] == "Completed", run
    assert run["output"] == {"sum": 42, "key": key}, run
    (child,) = timed.records.find("child", fn="child-add", key=key)
    assert child["event"] == "inngest/function.invoked", child


@pytest.mark.timeout(90)
def test_invoke_of_a_failing_function_raises_its_error_in_the_parent(timed: CoreStack) -> None:
    key = _key()
    event_id = timed.server.send_one("time/invoke", {"key": key, "target": "fail"})

    (run,) = timed.server.runs_for_event(event_id)

    # The SDK raises inngest.StepError carrying the child's error; the parent catches it.
    assert run["status"] == "Completed", run
    out = run["output"]
    assert out["caught"] == "StepError", out
    assert f"child failed for {key}" in out["message"], out
    assert out["name"] == "ValueError", out
    assert timed.records.count("child", fn="child-fail", key=key) == 1


# --- send_event from a step ---------------------------------------------------------------


@pytest.mark.timeout(90)
def test_an_event_sent_from_a_step_starts_the_function_listening_for_it(
    timed: CoreStack,
) -> None:
    key = _key()
    payload = {"n": 7, "s": "hello"}
    event_id = timed.server.send_one("time/bridge", {"key": key, "payload": payload})

    (run,) = timed.server.runs_for_event(event_id)

    assert run["status"] == "Completed", run
    (sent_id,) = run["output"]["sent"]
    (bridged,) = timed.server.runs_for_event(sent_id)
    assert bridged["function_id"] == "accept-time-bridged", bridged
    assert bridged["status"] == "Completed", bridged
    assert bridged["output"] == {"received": {"key": key, "payload": payload}}, bridged
    (seen,) = timed.records.find("bridged", key=key)
    assert seen["data"] == {"key": key, "payload": payload}


# --- cancellation -------------------------------------------------------------------------


def _sleeping_cancellable(timed: CoreStack, key: str, **data: Any) -> tuple[dict[str, Any], float]:
    """Start a run of ``cancellable`` and wait until it sleeps; return it and its wake time."""
    run = _start(timed.server, "time/cancellable", key=key, id=key, **data)
    wait_parked(timed.server, run["run_id"], "nap")
    (before,) = timed.records.find("step", fn="cancellable", step="before", key=key)
    return run, before["at"] + float(data.get("seconds", CANCELLABLE_SLEEP))


@pytest.mark.timeout(90)
def test_deleting_a_completed_run_answers_409_and_leaves_it_completed(timed: CoreStack) -> None:
    server = timed.server
    event_id = server.send_one("time/sleep", {"key": _key(), "seconds": 0})
    (run,) = server.runs_for_event(event_id)
    assert run["status"] == "Completed", run

    resp = server.http.delete(f"/v1/runs/{run['run_id']}")

    assert resp.status_code == 409, resp.text
    assert "Completed" in resp.text or "COMPLETED" in resp.text, resp.text
    assert server.run(run["run_id"])["status"] == "Completed"


@pytest.mark.timeout(90)
def test_the_runs_cancel_command_cancels_a_run_and_prints_its_status(timed: CoreStack) -> None:
    server = timed.server
    key = _key()
    run, wakes_at = _sleeping_cancellable(timed, key)

    done = subprocess.run(
        [sys.executable, "-m", "inlet", "runs", "cancel", run["run_id"], "--url", server.url],
        env=server.process.env,
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert run["run_id"] in done.stdout and "Cancelled" in done.stdout, done.stdout
    assert_cancelled_quietly(timed, server.run(run["run_id"]), "cancellable", key, wakes_at)
