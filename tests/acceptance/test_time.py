"""Time and control: durable sleeps, waits for events, invokes, events sent from steps,
cancellation (by event, API, bulk and CLI) and run timeouts.

Times are measured inside the app (memoised step outputs), so a lower bound such as "not
before 2 s" is exact; upper bounds are generous.

``timeouts.start`` is tested in ``test_start_timeout.py``: a run counts as started as soon
as its first call is claimed, so only flow control (a throttle) keeps one queued long enough.
"""

from __future__ import annotations

import datetime
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
FINISH_TIMEOUT = 2.0
FINISH_TIMEOUT_SLEEP = 5.0


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


@pytest.mark.timeout(90)
def test_sleep_until_a_time_two_seconds_ahead_resumes_at_that_time_and_not_before(
    timed: CoreStack,
) -> None:
    key = _key()
    # Whole milliseconds: the SDK sends the wake time as an ISO string with ms precision.
    until_ms = int((time.time() + 2.0) * 1000)
    event_id = timed.server.send_one("time/sleep-until", {"key": key, "until": until_ms / 1000})

    (run,) = timed.server.runs_for_event(event_id)

    assert run["status"] == "Completed", run
    after = run["output"]["after"]
    assert after * 1000 >= until_ms, f"resumed {until_ms / 1000 - after:.3f}s early"
    assert after < until_ms / 1000 + 30, f"resumed {after - until_ms / 1000:.3f}s late"
    assert timed.records.count("step", fn="sleep-until", step="after", key=key) == 1


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


@pytest.mark.timeout(90)
def test_a_wait_that_times_out_resumes_with_none(timed: CoreStack) -> None:
    server = timed.server
    key = _key()
    event_id = server.send_one("time/wait", {"key": key, "id": key, "timeout_s": 2})

    (run,) = server.runs_for_event(event_id)

    assert run["status"] == "Completed", run
    out = run["output"]
    assert out["received"] is None, out
    assert out["resumed"] - out["started"] >= 2.0, out
    (waited,) = timed.records.find("waited", key=key)
    assert waited["received"] is None


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


@pytest.mark.timeout(90)
def test_invoke_that_outlasts_its_timeout_raises_the_invoke_timeout_error(
    timed: CoreStack,
) -> None:
    key = _key()
    sent = time.time()
    event_id = timed.server.send_one("time/invoke", {"key": key, "target": "slow"})

    (run,) = timed.server.runs_for_event(event_id, timeout=30)

    assert run["status"] == "Completed", run
    out = run["output"]
    assert out["caught"] == "StepError", out
    assert out["name"] == "InngestInvokeTimeoutError", out
    (error,) = timed.records.find("invoke_error", key=key)
    waited = error["t"] - sent
    assert waited >= 2.0, f"the invoke timed out after {waited:.3f}s, before its 2 s timeout"
    # The child (sleeping 10 s) had not finished when the parent gave up.
    assert timed.records.count("step", fn="child-slow", step="done", key=key) == 0


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
def test_a_cancel_event_stops_a_sleeping_run_and_the_step_after_the_sleep_never_runs(
    timed: CoreStack,
) -> None:
    server = timed.server
    key, other = _key(), _key()
    run, wakes_at = _sleeping_cancellable(timed, key)

    server.send_one("time/cancel", {"id": other})
    time.sleep(1.0)
    assert server.run(run["run_id"])["status"] == "Running", "a cancel for another id matched"
    server.send_one("time/cancel", {"id": key})

    done = wait_ended(server, run["run_id"], timeout=30)

    assert_cancelled_quietly(timed, done, "cancellable", key, wakes_at)


@pytest.mark.timeout(90)
def test_deleting_a_sleeping_run_cancels_it_and_a_second_delete_changes_nothing(
    timed: CoreStack,
) -> None:
    server = timed.server
    key = _key()
    run, wakes_at = _sleeping_cancellable(timed, key)

    resp = server.http.delete(f"/v1/runs/{run['run_id']}")

    assert resp.status_code == 200, resp.text
    body = resp.json()["data"]
    assert body["run_id"] == run["run_id"], body
    assert body["status"] == "Cancelled", body
    assert_cancelled_quietly(timed, server.run(run["run_id"]), "cancellable", key, wakes_at)
    # Cancelling is idempotent: a second DELETE reports the cancelled run and emits
    # nothing more (a completed or failed run answers 409, below).
    again = server.http.delete(f"/v1/runs/{run['run_id']}")
    assert again.status_code == 200, again.text
    assert again.json()["data"]["status"] == "Cancelled", again.text
    cancelled = server.http.get(
        "/v1/events", params={"name": "inngest/function.cancelled", "limit": 1000}
    ).json()["data"]
    assert [e["data"]["run_id"] for e in cancelled].count(run["run_id"]) == 1, cancelled


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


@pytest.mark.timeout(120)
def test_bulk_cancellation_cancels_the_active_runs_of_a_function_that_match(
    timed: CoreStack,
) -> None:
    server = timed.server
    # Long sleeps: every run must still be sleeping when the cancellations arrive.
    keys = {"a": [_key() for _ in range(3)], "b": [_key() for _ in range(2)]}
    group_a, group_b = (
        [_sleeping_cancellable(timed, k, group=g, seconds=30)[0]["run_id"] for k in keys[g]]
        for g in ("a", "b")
    )
    bystander = _start(server, "time/sleep", key=_key(), seconds=4)

    resp = server.http.post(
        "/v1/cancellations",
        json={"function_id": "accept-time-cancellable", "if": "event.data.group == 'a'"},
    )

    assert resp.status_code == 200, resp.text
    result = resp.json()["data"]
    assert result["cancelled"] == 3, result
    assert sorted(result["run_ids"]) == sorted(group_a), result
    for run_id in group_b:
        assert server.run(run_id)["status"] == "Running", server.run(run_id)

    rest = server.http.post("/v1/cancellations", json={"function_id": "accept-time-cancellable"})

    assert rest.status_code == 200, rest.text
    assert sorted(rest.json()["data"]["run_ids"]) == sorted(group_b), rest.json()
    for run_id in group_a + group_b:
        assert wait_ended(server, run_id, timeout=30)["status"] == "Cancelled"
    # Another function's run is untouched and completes.
    assert wait_ended(server, bystander["run_id"])["status"] == "Completed"
    assert timed.records.count("step", fn="cancellable", step="after") == 0


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


# --- run timeouts -------------------------------------------------------------------------


@pytest.mark.timeout(90)
def test_a_run_that_outlives_its_finish_timeout_is_cancelled_with_the_reason(
    timed: CoreStack,
) -> None:
    server = timed.server
    key = _key()
    run = _start(server, "time/finish-timeout", key=key)

    done = wait_ended(server, run["run_id"], timeout=30)

    assert done["status"] == "Cancelled", done
    error = done["inlet"]["error"]
    assert "timeouts.finish" in str(error), done
    assert "timeouts.finish" in str(done["output"]), done
    rows = server.history(run["run_id"])
    assert any("timeouts.finish" in str(r.get("error")) for r in rows), rows
    # Cancelled no sooner than 2 s after the start (ms precision in the API's timestamps).
    lasted = _instant(done["ended_at"]) - _instant(done["run_started_at"])
    assert FINISH_TIMEOUT - 0.002 <= lasted < FINISH_TIMEOUT + 20, f"cancelled after {lasted}s"
    # The step after the 5 s sleep never runs.
    (before,) = timed.records.find("step", fn="finish-timeout", step="before", key=key)
    wait_for(
        lambda: time.time() > before["at"] + FINISH_TIMEOUT_SLEEP + 2.0,
        FINISH_TIMEOUT_SLEEP + 10,
        "the sleep to be long over",
    )
    assert timed.records.count("step", fn="finish-timeout", step="after", key=key) == 0
    assert server.run(run["run_id"])["status"] == "Cancelled"


def _instant(iso: str) -> float:
    return datetime.datetime.fromisoformat(iso).timestamp()
