"""The pure rules of TS v4 checkpoints (``inlet.steps.checkpoint``) and the call request
that turns them on: ``ctx.fn_id`` and ``ctx.qi_id`` always together, and only when the
call has a lease to fence its checkpoints with."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from test_machine import call, reply
from test_machine import run as run_machine

from inlet.errors import BadRequest, PayloadTooLarge
from inlet.model import Event, Function, ItemKind, QueueItem, Run, RunState, RunStatus, Trigger
from inlet.steps.checkpoint import dispatch_id, parse
from inlet.steps.request import build

NOW = 1_800_000_000.0


def body(*steps: dict[str, Any], qi_id: str = "01ITEM/owner:7") -> dict[str, Any]:
    return {"run_id": "01RUN", "qi_id": qi_id, "steps": list(steps)}


def test_a_step_run_becomes_the_memo_and_history_row_a_206_reply_would_make() -> None:
    op = {
        "id": "f" * 40,
        "op": "StepRun",
        "name": "load",
        "displayName": "Load it",
        "data": {"rows": 3},
        "timing": {"start": 1_800_000_000_000, "end": 1_800_000_000_250},
    }

    cp = parse("01RUN", body(op), now=NOW + 5, max_step_output_bytes=1000)

    assert (cp.run_id, cp.item_id, cp.lease) == ("01RUN", "01ITEM", "owner:7")
    [step] = cp.steps
    assert step.memo.step_id == "f" * 40 and step.memo.value == {"data": {"rows": 3}}
    assert (step.memo.name, step.memo.op) == ("Load it", "StepRun")
    assert step.size == len(orjson.dumps({"data": {"rows": 3}}))
    row = step.attempt
    assert row is not None
    assert (row.outcome, row.op_step, row.output, row.item_id) == (
        "step",
        "f" * 40,
        {"rows": 3},
        "01ITEM",
    )
    assert (row.started_at, row.ended_at) == (NOW, NOW + 0.25)


def test_a_step_without_timing_is_stamped_now() -> None:
    cp = parse(
        "01RUN", body({"id": "a", "op": "Step", "data": None}), now=NOW, max_step_output_bytes=99
    )
    row = cp.steps[0].attempt
    assert row is not None and (row.started_at, row.ended_at) == (NOW, NOW)


def test_a_defer_sent_with_the_steps_is_recorded_as_in_a_reply_without_a_history_row() -> None:
    # TS v4 ships the defer() calls it buffered with the next checkpoint.
    add = {"id": "d" * 40, "op": "DeferAdd", "name": "foo", "opts": {"fn_slug": "app-foo"}}
    abort = {"id": "e" * 40, "op": "DeferAbort", "opts": {"target_hashed_id": "d" * 40}}
    cp = parse("01RUN", body(add, abort), now=NOW, max_step_output_bytes=99)
    [added, aborted] = cp.steps
    assert (added.memo.op, added.memo.value) == (
        "DeferAdd",
        {"fn_slug": "app-foo", "status": "after_run", "input": None},
    )
    assert (aborted.memo.op, aborted.memo.value) == ("DeferAbort", {"target_hashed_id": "d" * 40})
    assert (added.attempt, added.size, aborted.attempt, aborted.size) == (None, 0, None, 0)


def test_a_malformed_defer_in_a_checkpoint_is_refused_naming_what_is_missing() -> None:
    add = {"id": "d" * 40, "op": "DeferAdd", "name": "foo", "opts": {}}
    with pytest.raises(BadRequest, match=r"DeferAdd 'foo' names no function: opts\.fn_slug"):
        parse("01RUN", body(add), now=NOW, max_step_output_bytes=99)


@pytest.mark.parametrize("op", ["Sleep", "InvokeFunction", "StepPlanned", "StepFailed", ""])
def test_anything_but_a_finished_step_is_refused(op: str) -> None:
    with pytest.raises(BadRequest, match=f"opcode {op!r}"):
        parse("01RUN", body({"id": "a", "op": op}), now=NOW, max_step_output_bytes=99)


def test_a_step_over_the_output_limit_is_too_large() -> None:
    big = {"id": "a", "op": "StepRun", "name": "big", "data": "x" * 100}
    with pytest.raises(PayloadTooLarge, match="'big' returned 111 bytes"):
        parse("01RUN", body(big), now=NOW, max_step_output_bytes=100)


def test_the_dispatch_id_round_trips_through_the_checkpoint() -> None:
    qi = dispatch_id("01ITEM", "1234-abcd:9")
    cp = parse("01RUN", body(qi_id=qi), now=NOW, max_step_output_bytes=1)
    assert (cp.item_id, cp.lease, cp.steps) == ("01ITEM", "1234-abcd:9", ())


def _request(lease: str) -> dict[str, Any]:
    ev = Event(internal_id="01EV", name="a/b", data={}, id="01EV", ts=0, received_at=NOW)
    run = Run(
        id="01RUN",
        function_slug="app-fn",
        event_ids=("01EV",),
        status=RunStatus.RUNNING,
        created_at=NOW,
    )
    item = QueueItem(
        id="01ITEM", run_id="01RUN", kind=ItemKind.DISCOVERY, step_id="step", due_at=NOW
    )
    fn = Function(
        "app-fn", "http://a/api", "fn", "http://a/api?fnId=app-fn", (Trigger(event="a/b"),)
    )
    request = build(RunState(run, (ev,), ()), item, fn, use_api_threshold=1 << 20, lease=lease)
    value: dict[str, Any] = orjson.loads(request.body)
    return value


def test_a_call_with_a_lease_names_the_function_and_its_dispatch() -> None:
    ctx = _request("owner:3")["ctx"]
    assert ctx["fn_id"] == "app-fn"
    assert ctx["qi_id"] == "01ITEM/owner:3"


def test_a_call_without_a_lease_sends_neither() -> None:
    ctx = _request("")["ctx"]
    assert "fn_id" not in ctx and "qi_id" not in ctx


def test_the_final_reply_of_a_checkpointed_call_finishes_the_run_with_run_complete() -> None:
    # Every step was checkpointed: the reply holds only RunComplete, with the output.
    out = run_machine(call(), reply(206, [{"id": "c", "op": "RunComplete", "data": {"v": 55}}]))
    assert out.finish is not None and out.finish.status is RunStatus.COMPLETED
    assert out.finish.output == {"v": 55} and out.memos == () and out.enqueue == ()


def test_a_discovery_request_schedules_a_fresh_discovery_that_may_checkpoint_again() -> None:
    out = run_machine(call(), reply(206, [{"id": "d", "op": "DiscoveryRequest"}]))
    assert out.finish is None and out.retry_at is None
    assert [(i.kind, i.step_id) for i in out.enqueue] == [(ItemKind.DISCOVERY, "step")]
    # Immediate execution stays on: the next call runs (and checkpoints) steps again.
    assert out.force_plan is None
