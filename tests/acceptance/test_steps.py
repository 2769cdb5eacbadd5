"""Steps are memoised: each body runs once, outputs are replayed, history shows each call."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

import pytest

from .harness import CoreStack, Stack, sha1_hex, start_core

pytestmark = pytest.mark.acceptance


def _rows_naming(rows: list[dict[str, Any]], step: str) -> list[dict[str, Any]]:
    """History rows that name ``step`` by its id, or by the SDK's hash of it."""
    return [
        r
        for r in rows
        if step in (r.get("name"), r.get("step_id")) or r.get("step_id") == sha1_hex(step)
    ]


@pytest.mark.timeout(90)
def test_each_of_three_steps_runs_exactly_once_and_the_output_combines_them(
    core: CoreStack,
) -> None:
    key = uuid.uuid4().hex
    event_id = core.server.send_one("accept/three", {"key": key, "x": 4})

    (run,) = core.server.runs_for_event(event_id)

    assert run["function_id"] == "accept-three-steps"
    assert run["status"] == "Completed", run
    assert run["output"] == {"one": 5, "two": 50, "three": "50-three"}
    for step in ("one", "two", "three"):
        assert core.records.count("step", fn="three-steps", step=step, key=key) == 1, step

    rows = core.server.history(run["run_id"])
    calls = core.records.find("call", run_id=run["run_id"])
    # One call per step (each executed inline by a discovery call), then the final call.
    assert len(calls) == 4, calls
    assert len(rows) == len(calls), json.dumps(rows, indent=1)
    assert all(r["attempt"] == 0 for r in rows), rows
    outputs = [r.get("output") for r in rows]
    assert outputs == [5, 50, "50-three", run["output"]], rows
    for step in ("one", "two", "three"):
        assert _rows_naming(rows, step), f"no history row names step {step!r}: {rows}"


@pytest.mark.timeout(90)
def test_parallel_steps_and_the_step_after_them_each_run_once(core: CoreStack) -> None:
    key = uuid.uuid4().hex
    event_id = core.server.send_one("accept/parallel", {"key": key})

    (run,) = core.server.runs_for_event(event_id)

    assert run["status"] == "Completed", run
    assert run["output"] == {"a": "A", "b": "B", "c": "ABC"}
    for step in ("a", "b", "c"):
        assert core.records.count("step", fn="parallel", step=step, key=key) == 1, step
    rows = core.server.history(run["run_id"])
    for step in ("a", "b", "c"):
        assert _rows_naming(rows, step), f"no history row for step {step!r}: {rows}"


@pytest.mark.timeout(90)
def test_state_larger_than_the_use_api_threshold_reaches_the_next_step(stack: Stack) -> None:
    core = start_core(stack, use_api_threshold=2000)
    key = uuid.uuid4().hex
    event_id = core.server.send_one("accept/big", {"key": key})

    (run,) = core.server.runs_for_event(event_id)

    blob = "x" * 5000 + key
    assert run["status"] == "Completed", run
    assert run["output"] == {
        "len": len(blob),
        "sha256": hashlib.sha256(blob.encode()).hexdigest(),
        "tail": key,
    }
    assert core.records.count("step", fn="big-state", step="produce", key=key) == 1
    assert core.records.count("step", fn="big-state", step="consume", key=key) == 1
    calls = core.records.find("call", run_id=run["run_id"])
    assert any(c["use_api"] is True for c in calls), (
        f"no call request had use_api=true although the state exceeded 2000 bytes: {calls}"
    )
