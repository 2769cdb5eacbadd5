"""Durability: SIGKILL the server mid-flight; after a restart on the same database every run
completes, and no step whose result the server had recorded runs again."""

from __future__ import annotations

import json
import re
import time
import uuid

import pytest

from .harness import CoreStack, Stack, check_durable_runs, start_core, wait_for

pytestmark = [pytest.mark.acceptance, pytest.mark.slow]

RUNS = 20
STEPS = ("a", "b", "c")
TOKEN = re.compile(r"\b[0-9a-f]{32}\b")


def _recorded_tokens(core: CoreStack, run_ids: list[str]) -> set[str]:
    """Step outputs (random tokens) that the server's history already shows."""
    tokens: set[str] = set()
    for run_id in run_ids:
        tokens |= set(TOKEN.findall(json.dumps(core.server.history(run_id))))
    return tokens


@pytest.mark.timeout(420)
def test_runs_survive_a_server_kill_and_recorded_steps_are_not_repeated(stack: Stack) -> None:
    core = start_core(stack)
    server, records = core.server, core.records
    keys = [uuid.uuid4().hex for _ in range(RUNS)]
    event_ids = server.send(*({"name": "accept/durable", "data": {"key": k}} for k in keys))
    run_ids = [server.runs_for_event(e, ended=False)[0]["run_id"] for e in event_ids]

    # Kill once the server has recorded a good number of step results, runs still in flight.
    step_tokens = {r["token"] for r in records.find("durable_step")}

    def enough_recorded() -> set[str] | None:
        step_tokens.update(r["token"] for r in records.find("durable_step"))
        seen = _recorded_tokens(core, run_ids) & step_tokens
        return seen if len(seen) >= 10 else None

    recorded_before_kill = wait_for(
        enough_recorded, 120, "the server to record 10 step results", interval=0.05
    )
    kill_time = time.time()
    server.kill()
    executed_before_kill = len(records.find("durable_step"))
    assert executed_before_kill < RUNS * len(STEPS), "every step finished before the kill"

    server.start()
    runs = {}
    for key, event_id in zip(keys, event_ids, strict=True):
        (run,) = server.runs_for_event(event_id, timeout=240)
        runs[key] = run

    executions = records.find("durable_step")
    by_step = check_durable_runs(runs, executions)

    # A step whose result was in the server's history before the kill never starts again.
    token_owner = {e["token"]: (e["key"], e["step"]) for e in executions}
    rerun = [
        (token_owner[t], e)
        for t in recorded_before_kill
        for e in by_step[token_owner[t]]
        if e["t_start"] > kill_time
    ]
    assert not rerun, f"steps recorded before the kill ran again: {rerun}"

    duplicates = len(executions) - RUNS * len(STEPS)
    assert 0 <= duplicates <= RUNS, (
        f"{duplicates} duplicate step executions (at most one per in-flight call allowed)"
    )
