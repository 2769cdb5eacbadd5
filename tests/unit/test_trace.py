"""The trace of a run (Inngest's ``RunTraceSpan`` tree) is built from its memos and history."""

from __future__ import annotations

from typing import Any

from inlet.api.graphql.trace import Span, build_trace, output_id, parse_output_id, span_output
from inlet.model import Attempt, Run, RunState, RunStatus, StoredMemo

RUN = "01RUN"


def _run(status: RunStatus = RunStatus.COMPLETED, output: Any = None, **kw: Any) -> Run:
    return Run(
        id=RUN,
        function_slug="app-fn",
        event_ids=("01EVT",),
        status=status,
        created_at=100.0,
        started_at=100.5,
        ended_at=200.0 if status.ended else None,
        output=output,
        **kw,
    )


def _memo(step: str, value: Any, name: str, op: str, seq: int, at: float) -> StoredMemo:
    return StoredMemo(step, value, name, op, seq, at)


def _row(
    outcome: str,
    at: float,
    *,
    step_id: str = "step",
    op_step: str = "",
    attempt: int = 0,
    name: str = "",
    item: str = "item",
) -> Attempt:
    return Attempt(
        run_id=RUN,
        item_id=item,
        step_id=step_id,
        attempt=attempt,
        started_at=at,
        ended_at=at + 0.1,
        outcome=outcome,
        name=name,
        op_step=op_step,
    )


def _state(run: Run, *memos: StoredMemo) -> RunState:
    return RunState(run=run, events=(), memos=memos)


def _summary(span: Span) -> list[tuple[str, str, str, int]]:
    return [(c.name, c.status, c.step_type, c.attempts) for c in span.children]


def test_a_completed_run_has_one_span_per_step_in_order_then_a_finalization() -> None:
    state = _state(
        _run(output={"ok": True}),
        _memo("h1", {"data": 1}, "one", "StepRun", 0, 101.1),
        _memo("h2", {"data": 2}, "dup", "StepRun", 1, 102.1),
        _memo("h3", {"data": 3}, "dup", "StepRun", 2, 103.1),
    )
    history = [
        _row("step", 101.0, op_step="h1", name="one", item="i1"),
        _row("step", 102.0, op_step="h2", name="dup", item="i2"),
        _row("step", 103.0, op_step="h3", name="dup", item="i3"),
        _row("completed", 104.0, item="i4"),
    ]

    root = build_trace(state, history, "My function")

    assert root.is_root and root.name == "My function"
    assert root.status == "COMPLETED"
    assert root.output_id == output_id(RUN)
    assert _summary(root) == [
        ("one", "COMPLETED", "RUN", 0),
        ("dup", "COMPLETED", "RUN", 0),
        ("dup", "COMPLETED", "RUN", 0),
        ("Finalization", "COMPLETED", "FINALIZATION", 0),
    ]
    assert [c.step_id for c in root.children] == ["h1", "h2", "h3", None]
    assert root.children[1].output_id == f"{RUN}:h2"
    assert all(c.parent_span_id == root.span_id for c in root.children)
    assert len({c.span_id for c in root.children}) == 4


def test_a_step_retried_then_succeeding_shows_the_last_attempt_index() -> None:
    state = _state(_run(), _memo("h1", {"data": "ok"}, "flaky", "StepRun", 0, 103.0))
    history = [
        _row("retry", 101.0, op_step="h1", name="flaky", attempt=0),
        _row("step", 102.0, op_step="h1", name="flaky", attempt=1),
        _row("completed", 104.0, item="i2"),
    ]

    root = build_trace(state, history)

    assert root.name == "app-fn"
    assert _summary(root)[0] == ("flaky", "COMPLETED", "RUN", 1)


def test_a_failed_step_and_the_failed_run_show_failed_spans_and_error_outputs() -> None:
    body = {"name": "MyError", "message": "boom", "stack": "trace", "code": "step_errored"}
    state = _state(
        _run(RunStatus.FAILED, output=body, error={"name": "MyError", "message": "boom"}),
        _memo(
            "h1",
            {"error": {"name": "MyError", "message": "boom", "cause": {"message": "why"}}},
            "broken",
            "StepFailed",
            0,
            102.0,
        ),
    )
    history = [
        _row("retry", 101.0, op_step="h1", name="broken", attempt=0, item="i1"),
        _row("step_failed", 102.0, op_step="h1", name="broken", attempt=1, item="i1"),
        _row("retry", 103.0, item="i2", attempt=0),
        _row("failed", 104.0, item="i2", attempt=1),
    ]

    root = build_trace(state, history)

    assert root.status == "FAILED"
    assert root.attempts == 1
    assert _summary(root) == [
        ("broken", "FAILED", "RUN", 1),
        ("Finalization", "FAILED", "FINALIZATION", 1),
    ]
    step_out = span_output(state, "h1")
    assert step_out is not None and step_out.data is None
    assert step_out.error == {
        "message": "boom",
        "name": "MyError",
        "stack": None,
        "cause": {"message": "why"},
    }
    run_out = span_output(state, "")
    assert run_out is not None and run_out.data is None
    assert run_out.error == {"message": "boom", "name": "MyError", "stack": "trace", "cause": None}


def test_parallel_steps_are_ordered_by_when_they_started_and_planning_is_not_a_step() -> None:
    state = _state(
        _run(),
        _memo("hb", {"data": "B"}, "b", "StepRun", 0, 102.0),
        _memo("ha", {"data": "A"}, "a", "StepRun", 1, 102.5),
        _memo("hc", {"data": "C"}, "c", "StepRun", 2, 104.0),
    )
    history = [
        _row("planned", 100.6, name="a, b"),
        _row("step", 101.0, step_id="ha", op_step="ha", name="a", item="ia"),
        _row("step", 101.2, step_id="hb", op_step="hb", name="b", item="ib"),
        _row("step", 103.0, op_step="hc", name="c", item="i3"),
        _row("completed", 105.0, item="i4"),
    ]
    # History is oldest-first by end of call; "b" ended first but "a" started first.
    history[1], history[2] = history[2], history[1]

    root = build_trace(state, history)

    assert [c.name for c in root.children] == ["a", "b", "c", "Finalization"]


def test_sleep_wait_and_invoke_spans_take_their_kind_and_name_from_memo_or_history() -> None:
    event = {"name": "app/go", "data": {"k": 1}, "id": "x", "ts": 1, "user": {}}
    state = _state(
        _run(output=None),
        _memo("hs", None, "nap", "Sleep", 0, 102.0),
        _memo("hw", event, "", "Resume", 1, 104.0),
        _memo("hi", {"data": {"child": 7}}, "", "Resume", 2, 106.0),
        _memo("ht", None, "late", "WaitForEvent", 3, 108.0),
        _memo("hx", {"error": {"name": "E", "message": "gone"}}, "x", "InvokeFunction", 4, 110.0),
    )
    history = [
        _row("waiting", 101.0, op_step="hs", name="nap"),
        _row("timer", 102.0, step_id="hs", op_step="hs", name="nap"),
        _row("waiting", 103.0, op_step="hw", name="wait-go"),
        _row("resumed", 104.0, step_id="hw", op_step="hw"),
        _row("waiting", 105.0, op_step="hi", name="call-child"),
        _row("resumed", 106.0, step_id="hi", op_step="hi"),
        _row("waiting", 107.0, op_step="ht", name="late"),
        _row("timer", 108.0, step_id="ht", op_step="ht", name="late"),
        _row("step", 109.0, op_step="hx", name="x"),
        _row("completed", 111.0),
    ]

    root = build_trace(state, history)

    assert _summary(root) == [
        ("nap", "COMPLETED", "SLEEP", 0),
        ("wait-go", "COMPLETED", "WAIT_FOR_EVENT", 0),
        ("call-child", "COMPLETED", "INVOKE", 0),
        ("late", "COMPLETED", "WAIT_FOR_EVENT", 0),
        ("x", "FAILED", "INVOKE", 0),
        ("Finalization", "COMPLETED", "FINALIZATION", 0),
    ]
    outputs = {s: span_output(state, s) for s in ("hs", "hw", "hi", "ht")}
    assert {s: o.data if o else "missing" for s, o in outputs.items()} == {
        "hs": "null",
        "hw": '{"name":"app/go","data":{"k":1},"id":"x","ts":1,"user":{}}',
        "hi": '{"child":7}',
        "ht": "null",
    }
    timed_out = span_output(state, "hx")
    assert timed_out is not None and timed_out.error is not None
    assert timed_out.error["message"] == "gone"
    assert span_output(state, "") == span_output(state, "")
    completed = span_output(state, "")
    assert completed is not None and completed.data == "null" and completed.error is None


def test_a_running_run_shows_waiting_and_retrying_steps_without_outputs() -> None:
    state = _state(_run(RunStatus.RUNNING), _memo("h1", {"data": 1}, "one", "StepRun", 0, 101.1))
    history = [
        _row("step", 101.0, op_step="h1", name="one"),
        _row("retry", 102.0, op_step="h2", name="flaky", attempt=0, item="i2"),
        _row("retry", 103.0, op_step="h2", name="flaky", attempt=1, item="i2"),
        _row("waiting", 104.0, op_step="h3", name="wait", item="i3"),
        _row("timer", 104.5, step_id="timeout:finish", item="t1"),
        _row("rearmed", 104.6, step_id="timeout:finish", item="t1"),
    ]

    root = build_trace(state, history)

    assert root.status == "RUNNING" and root.output_id is None and root.ended_at is None
    assert _summary(root) == [
        ("one", "COMPLETED", "RUN", 0),
        ("flaky", "RUNNING", "", 1),
        ("wait", "WAITING", "", 0),
    ]
    assert [c.output_id for c in root.children] == [f"{RUN}:h1", None, None]
    assert span_output(state, "") is None
    assert span_output(state, "h2") is None


def test_a_cancelled_run_has_no_finalization_and_its_open_steps_are_cancelled() -> None:
    error = {"name": "Cancelled", "message": "cancelled through the API"}
    state = _state(_run(RunStatus.CANCELLED, output=error, error=error))
    history = [
        _row("waiting", 101.0, op_step="h1", name="nap"),
        _row("cancelled", 102.0, step_id="", name="cancel", item=""),
    ]

    root = build_trace(state, history)

    assert root.status == "CANCELLED"
    assert _summary(root) == [("nap", "CANCELLED", "", 0)]
    out = span_output(state, "")
    assert out is not None and out.error is not None
    assert out.error["message"] == "cancelled through the API"


def test_a_queued_run_has_an_empty_trace() -> None:
    root = build_trace(_state(_run(RunStatus.QUEUED)), [])

    assert root.status == "QUEUED"
    assert root.children == ()
    assert root.attempts == 0


def test_output_ids_round_trip_and_foreign_ids_are_rejected() -> None:
    assert parse_output_id(output_id(RUN, "abc")) == (RUN, "abc")
    assert parse_output_id(output_id(RUN)) == (RUN, "")
    assert parse_output_id("no-colon") is None
    assert parse_output_id(":abc") is None
