"""Timers and waits are durable: SIGKILL the server while 100 runs sleep and 100 wait for an
event; after a restart on the same database each sleeper wakes once, no sooner than its
sleep's end, and each waiter receives its own event once."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from .harness import TERMINAL, Stack, start_app_stack, wait_for

pytestmark = [pytest.mark.acceptance, pytest.mark.slow]

RUNS = 100
SLEEP_SECONDS = 8.0
GO = "restart/go"


@pytest.mark.timeout(420)
def test_sleeping_and_waiting_runs_survive_a_server_kill_and_resume_exactly_once(
    stack: Stack,
) -> None:
    timed = start_app_stack(
        stack, "apps.time_app:app", ["accept-time-sleeper", "accept-time-waiter"]
    )
    server, records = timed.server, timed.records
    sleepers = [uuid.uuid4().hex for _ in range(RUNS)]
    waiters = [uuid.uuid4().hex for _ in range(RUNS)]
    sleep_events = server.send(
        *({"name": "time/sleep", "data": {"key": k, "seconds": SLEEP_SECONDS}} for k in sleepers)
    )
    wait_events = server.send(
        *(
            {"name": "time/wait", "data": {"key": k, "id": k, "go": GO, "timeout_s": 60}}
            for k in waiters
        )
    )
    run_ids: dict[str, str] = {}
    for key, event_id in zip(sleepers + waiters, sleep_events + wait_events, strict=True):
        (run,) = server.runs_for_event(event_id, ended=False)
        run_ids[key] = run["run_id"]
    parked_step = {**dict.fromkeys(sleepers, "nap"), **dict.fromkeys(waiters, "wait")}

    # Kill only once the server has recorded every sleep and every wait.
    pending = set(run_ids)

    def all_parked() -> bool:
        for key in list(pending):
            rows = server.history(run_ids[key])
            if any(r["name"] == parked_step[key] and r["outcome"] == "waiting" for r in rows):
                pending.discard(key)
        return not pending

    wait_for(
        all_parked,
        60,
        "all 200 runs to be sleeping or waiting",
        interval=0.2,
        describe=lambda: f"{len(pending)} not parked",
    )
    server.kill()
    kill_time = time.time()
    woke_before_kill = records.find("step", fn="sleeper", step="after")
    assert not woke_before_kill, "sleepers woke before the kill; the test needs a longer sleep"

    server.start()
    # Send the waited-for events in reverse order, each naming its run by id.
    go_ids = dict(
        zip(
            reversed(waiters),
            server.send(*({"name": GO, "data": {"id": k, "key": k}} for k in reversed(waiters))),
            strict=True,
        )
    )

    ended: dict[str, dict[str, Any]] = {}

    def all_ended() -> bool:
        for key, run_id in run_ids.items():
            if key not in ended:
                run = server.run(run_id)
                if run["status"] in TERMINAL:
                    ended[key] = run
        return len(ended) == len(run_ids)

    wait_for(
        all_ended,
        180,
        "all 200 runs to end after the restart",
        interval=0.5,
        describe=lambda: f"{len(run_ids) - len(ended)} still running",
    )

    not_completed = [r for r in ended.values() if r["status"] != "Completed"]
    assert not not_completed, not_completed[:5]
    for key in sleepers:
        out = ended[key]["output"]
        slept = out["after"] - out["before"]
        assert slept >= SLEEP_SECONDS, f"sleeper {key} woke after {slept:.3f}s"
        assert records.count("step", fn="sleeper", step="before", key=key) == 1, key
        (after,) = records.find("step", fn="sleeper", step="after", key=key)
        assert after["at"] > kill_time, (key, after)
    for key in waiters:
        received = ended[key]["output"]["received"]
        assert received is not None, f"waiter {key} timed out instead of getting its event"
        assert received["name"] == GO, received
        assert received["data"] == {"id": key, "key": key}, (key, received)
        assert received["id"] == go_ids[key], (key, received, go_ids[key])
        (waited,) = records.find("waited", key=key)
        assert waited["received"] == received, (key, waited)
