"""Scale-out: several ``inlet`` processes on one PostgreSQL database behave as one server.

1,000 three-step runs are sent round-robin to the three processes; the process that is
most likely the cron leader (the first one started) is SIGKILLed halfway. Every run
completes, each step's recorded output is one real execution that the next step saw, and
a ``* * * * *`` cron fires exactly once a minute across the kill (the leadership moves).
"""

from __future__ import annotations

import itertools
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from .harness import Stack, check_durable_runs, cron_fires, free_port, instant, migrate, wait_for

pytestmark = [pytest.mark.acceptance, pytest.mark.slow]

RUNS = 1000
STEPS = ("a", "b", "c")
TICKER = "accept-time-cron-ticker"


@pytest.mark.timeout(900)
def test_three_processes_on_one_database_share_the_work_and_survive_a_kill(
    tmp_path: Path, pg_url: str
) -> None:
    migrate(pg_url)
    stack = Stack(tmp_path, pg_url)
    try:
        _scale_out(stack)
    finally:
        stack.close()


def _scale_out(stack: Stack) -> None:
    ports = [free_port() for _ in range(3)]
    core = stack.app("apps.core_app:app", server_url=f"http://127.0.0.1:{ports[1]}")
    cron = stack.app("apps.time_app:cron_app", server_url=f"http://127.0.0.1:{ports[1]}")
    servers = [stack.server([core.url, cron.url], port=port) for port in ports]
    for server in servers:
        server.wait_functions(["accept-durable", TICKER])
    first, survivors = servers[0], servers[1:]

    keys = [uuid.uuid4().hex for _ in range(RUNS)]
    event_ids: list[str] = []
    for n, start in enumerate(range(0, RUNS, 50)):
        batch = keys[start : start + 50]
        target = servers[n % 3]
        event_ids += target.send(*({"name": "accept/durable", "data": {"key": k}} for k in batch))
    assert len(event_ids) == RUNS

    # Halfway through the steps, kill the first process (the cron leader: it started first).
    wait_for(
        lambda: len(stack.records.find("durable_step")) >= RUNS * len(STEPS) // 2 or None,
        300,
        "half of the steps to run",
        interval=0.2,
    )
    first.kill()
    killed_at = time.time()
    assert len(stack.records.find("durable_step")) < RUNS * len(STEPS), "finished before the kill"

    # Every run completes; a run is visible from any process.
    runs: dict[str, dict[str, Any]] = {}
    for n, (key, event_id) in enumerate(zip(keys, event_ids, strict=True)):
        (run,) = survivors[n % 2].runs_for_event(event_id, timeout=300)
        runs[key] = run
    executions = check_durable_runs(runs, stack.records.find("durable_step"))
    repeated = sum(len(v) - 1 for v in executions.values())
    # Only calls in flight in the killed process can have run twice (at-least-once calls).
    assert repeated <= 128, f"{repeated} step executions were repeated"

    # Cron: fires before and after the kill, once a minute, each with exactly one run.
    def enough() -> list[dict[str, Any]] | None:
        fires = cron_fires(survivors[0])
        after = [f for f in fires if instant(f["data"]["scheduledAt"]) > killed_at + 10]
        return fires if len(fires) >= 3 and len(after) >= 2 else None

    fires = wait_for(
        enough, 300, "cron fires before and after the kill", interval=1.0, describe=lambda: ""
    )
    minutes = [instant(f["data"]["scheduledAt"]) for f in fires]
    assert all(m % 60 == 0 for m in minutes), minutes
    assert len(set(minutes)) == len(minutes), f"a minute fired twice: {minutes}"
    assert [b - a for a, b in itertools.pairwise(minutes)] == [60.0] * (len(minutes) - 1), (
        f"a minute was skipped: {minutes}"
    )
    for fire in fires:
        (run,) = survivors[1].runs_for_event(fire["internal_id"], timeout=60)
        assert run["status"] == "Completed", run
        assert len(stack.records.find("tick", event_id=fire["id"])) == 1, fire


PROCESSES = 4
THREE_RUNS = 24


@pytest.mark.timeout(600)
def test_concurrency_limits_hold_in_total_across_four_processes(
    tmp_path: Path, pg_url: str
) -> None:
    """Four processes, each accepting a share of the events and free to run its own: a
    limit of 1 never lets two step bodies overlap, a limit of 3 never lets four, and
    every run completes with its step run exactly once."""
    migrate(pg_url)
    stack = Stack(tmp_path, pg_url)
    try:
        ports = [free_port() for _ in range(PROCESSES)]
        app = stack.app("apps.flow_app:app", server_url=f"http://127.0.0.1:{ports[0]}")
        servers = [stack.server([app.url], port=port) for port in ports]
        for server in servers:
            server.wait_functions(["accept-flow-serial", "accept-flow-three-at-once"])
        serial_key, three_key = uuid.uuid4().hex, uuid.uuid4().hex
        ids: list[str] = []
        for i in range(THREE_RUNS):  # round robin: every process accepts a share
            target = servers[i % PROCESSES]
            ids += target.send({"name": "flow/three-at-once", "data": {"key": three_key, "i": i}})
            if i < 8:
                ids += target.send({"name": "flow/serial", "data": {"key": serial_key, "i": i}})
        for n, event_id in enumerate(ids):
            (run,) = servers[(n + 1) % PROCESSES].runs_for_event(event_id, timeout=240)
            assert run["status"] == "Completed", run
        for fn, key, runs, limit in (
            ("serial", serial_key, 8, 1),
            ("three-at-once", three_key, THREE_RUNS, 3),
        ):
            spans = stack.records.find("span", fn=fn, key=key)
            per_run = sorted(span["data"]["i"] for span in spans)
            assert per_run == list(range(runs)), f"{fn}: step bodies ran {per_run}"
            assert _most_at_once(spans) <= limit, f"{fn}: more than {limit} bodies overlapped"
    finally:
        stack.close()


def _most_at_once(spans: list[dict[str, Any]]) -> int:
    """The most step bodies in progress at one instant (an end before a start at a tie)."""
    edges = sorted([(s["t_start"], 1) for s in spans] + [(s["t_end"], -1) for s in spans])
    running = most = 0
    for _, change in edges:
        running += change
        most = max(most, running)
    return most
