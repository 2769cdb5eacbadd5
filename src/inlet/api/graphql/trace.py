"""A run's trace, in the shape of Inngest's ``RunTraceSpan``, built from its history.

Pure: the run's state (memos in completion order) and its history (every call, oldest
first) in, a tree of spans out. The root span is the run; its children are one span per
step in execution order, then a ``Finalization`` span when a call ended the run. Each
span's ``output_id`` lets ``span_output`` find what it produced again: ``"<run>:<step>"``
for a step (its memo) and ``"<run>:"`` for the run (its output).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import orjson

from inlet.model import JSON, STEP_DISCOVERY, Attempt, Run, RunState, RunStatus, StoredMemo
from inlet.steps.ops import RESUME, STEP_MEMOS, Op

FINALIZATION = "Finalization"

# Opcodes of recorded memos -> Inngest's StepOp.
_STEP_OPS: dict[str, str] = {
    Op.STEP_RUN: "RUN",
    Op.STEP: "RUN",
    Op.STEP_FAILED: "RUN",
    Op.SLEEP: "SLEEP",
    Op.WAIT_FOR_EVENT: "WAIT_FOR_EVENT",
    Op.INVOKE_FUNCTION: "INVOKE",
}
# Memos whose value is ``{"data": ...}`` or ``{"error": ...}``: a step's result or an
# invoke's.
_WRAPPED_OPS = STEP_MEMOS | {Op.INVOKE_FUNCTION}
_RUN_STATUS = {
    RunStatus.QUEUED: "QUEUED",
    RunStatus.RUNNING: "RUNNING",
    RunStatus.COMPLETED: "COMPLETED",
    RunStatus.FAILED: "FAILED",
    RunStatus.CANCELLED: "CANCELLED",
}
_FINAL_OUTCOMES = ("completed", "failed")
# The run's own timers (``timeouts.start`` / ``.finish``) are items, not steps.
_RUN_TIMER_PREFIX = "timeout:"


@dataclass(frozen=True, slots=True)
class Span:
    span_id: str
    name: str
    status: str
    """A ``RunTraceSpanStatus``: QUEUED, RUNNING, WAITING, COMPLETED, FAILED, CANCELLED."""
    step_type: str
    """``RUN``, ``SLEEP``, ``WAIT_FOR_EVENT``, ``INVOKE``, ``FINALIZATION``; "" for the run
    and for a waiting step whose kind is not known yet."""
    attempts: int
    """The last attempt's 0-based index."""
    queued_at: float
    started_at: float | None = None
    ended_at: float | None = None
    output_id: str | None = None
    step_id: str | None = None
    step_op: str | None = None
    parent_span_id: str | None = None
    children: tuple[Span, ...] = field(default=())

    @property
    def is_root(self) -> bool:
        return self.parent_span_id is None


@dataclass(frozen=True, slots=True)
class SpanOutput:
    data: str | None = None
    """JSON text."""
    error: dict[str, JSON] | None = None
    """``message``, ``name``, ``stack`` and ``cause`` (any JSON value)."""


def output_id(run_id: str, step_id: str = "") -> str:
    return f"{run_id}:{step_id}"


def parse_output_id(value: str) -> tuple[str, str] | None:
    run_id, sep, step_id = value.partition(":")
    return (run_id, step_id) if sep and run_id else None


def build_trace(state: RunState, history: list[Attempt], function_name: str = "") -> Span:
    """The run's root span with one child per step in execution order."""
    run = state.run
    root_id = _span_id(run.id, "")
    memos = {m.step_id: m for m in state.memos}
    rows_by_step: dict[str, list[tuple[int, Attempt]]] = {}
    for index, row in enumerate(history):
        for step in _steps_of(row):
            rows_by_step.setdefault(step, []).append((index, row))
    order: dict[str, tuple[float, int]] = {}
    for step, rows in rows_by_step.items():
        order[step] = (min(r.started_at for _, r in rows), rows[0][0])
    for memo in state.memos:
        if memo.step_id not in order:
            order[memo.step_id] = (memo.recorded_at, len(history) + memo.seq)
        elif memo.recorded_at < order[memo.step_id][0]:
            order[memo.step_id] = (memo.recorded_at, order[memo.step_id][1])
    steps = sorted(order, key=lambda s: order[s])
    children = [
        _step_span(run, step, memos.get(step), [r for _, r in rows_by_step.get(step, [])], root_id)
        for step in steps
    ]
    final = _finalization(run, history, root_id)
    if final is not None:
        children.append(final)
    ended = run.status.ended
    return Span(
        span_id=root_id,
        name=function_name or run.function_slug,
        status=_RUN_STATUS[run.status],
        step_type="",
        attempts=final.attempts if final is not None else 0,
        queued_at=run.created_at,
        started_at=run.started_at,
        ended_at=run.ended_at if ended else None,
        output_id=output_id(run.id) if ended else None,
        children=tuple(children),
    )


def span_output(state: RunState, step_id: str) -> SpanOutput | None:
    """What the span ``"<run>:<step_id>"`` produced: a step's memo, or the run's output
    for ``step_id == ""``. None when there is nothing (yet)."""
    run = state.run
    if not step_id:
        if not run.status.ended:
            return None
        if run.status is RunStatus.COMPLETED:
            return SpanOutput(data=_json_text(run.output))
        body = run.output if isinstance(run.output, dict) else run.error
        return SpanOutput(error=_step_error(body if body is not None else run.output))
    memo = next((m for m in state.memos if m.step_id == step_id), None)
    if memo is None:
        return None
    value = memo.value
    if _unwraps(memo) and isinstance(value, dict):
        if "error" in value and value["error"] is not None:
            return SpanOutput(error=_step_error(value["error"]))
        return SpanOutput(data=_json_text(value.get("data")))
    return SpanOutput(data=_json_text(value))


def _steps_of(row: Attempt) -> list[str]:
    if row.outcome == "planned":
        return []
    steps = [row.op_step] if row.op_step else []
    targeted = row.step_id not in ("", STEP_DISCOVERY, *steps)
    if targeted and not row.step_id.startswith(_RUN_TIMER_PREFIX):
        steps.append(row.step_id)
    return steps


def _step_span(
    run: Run, step: str, memo: StoredMemo | None, rows: list[Attempt], parent: str
) -> Span:
    name = memo.name if memo is not None and memo.name else ""
    if not name:
        name = next((r.name for r in rows if r.op_step == step and r.name), step)
    started = min((r.started_at for r in rows), default=None)
    if memo is not None and started is None:
        started = memo.recorded_at
    op = _step_op(memo)
    return Span(
        span_id=_span_id(run.id, step),
        name=name,
        status=_step_status(run, memo, rows),
        step_type=op or "",
        attempts=max((r.attempt for r in rows), default=0),
        queued_at=started if started is not None else run.created_at,
        started_at=started,
        ended_at=memo.recorded_at if memo is not None else None,
        output_id=output_id(run.id, step) if memo is not None else None,
        step_id=step,
        step_op=op,
        parent_span_id=parent,
    )


def _step_op(memo: StoredMemo | None) -> str | None:
    if memo is None:
        return None
    if memo.op == RESUME:
        return "INVOKE" if _invoke_shaped(memo.value) else "WAIT_FOR_EVENT"
    return _STEP_OPS.get(memo.op, "RUN")


def _step_status(run: Run, memo: StoredMemo | None, rows: list[Attempt]) -> str:
    if memo is not None:
        failed = _unwraps(memo) and isinstance(memo.value, dict) and memo.value.get("error")
        return "FAILED" if failed else "COMPLETED"
    if run.status is RunStatus.CANCELLED:
        return "CANCELLED"
    last = rows[-1].outcome if rows else ""
    if run.status.ended:
        return "FAILED" if last in ("retry", "failed", "step_failed") else "CANCELLED"
    if last == "waiting":
        return "WAITING"
    return "RUNNING" if rows else "QUEUED"


def _finalization(run: Run, history: list[Attempt], parent: str) -> Span | None:
    """The call that ended the run (with its earlier attempts), when a call did."""
    if run.status not in (RunStatus.COMPLETED, RunStatus.FAILED):
        return None
    final = next((r for r in reversed(history) if r.outcome in _FINAL_OUTCOMES), None)
    if final is None:
        return None
    rows = [r for r in history if r.item_id == final.item_id] if final.item_id else [final]
    return Span(
        span_id=_span_id(run.id, "finalization"),
        name=FINALIZATION,
        status=_RUN_STATUS[run.status],
        step_type="FINALIZATION",
        attempts=max(r.attempt for r in rows),
        queued_at=rows[0].started_at,
        started_at=rows[0].started_at,
        ended_at=final.ended_at,
        output_id=output_id(run.id),
        parent_span_id=parent,
    )


def _unwraps(memo: StoredMemo) -> bool:
    """Whether the memo is ``{"data": ...}`` / ``{"error": ...}`` (a step's result or an
    invoke's) rather than a value in itself (a sleep's null, a wait's event)."""
    if memo.op in _WRAPPED_OPS:
        return True
    return memo.op == RESUME and _invoke_shaped(memo.value)


def _invoke_shaped(value: JSON) -> bool:
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in ("data", "error")


def _step_error(raw: JSON) -> dict[str, JSON]:
    if not isinstance(raw, dict):
        return {"message": "", "name": None, "stack": _json_text(raw), "cause": None}
    message = raw.get("message")
    if message is None:
        message = raw.get("error", "")
    stack = raw.get("stack")
    name = raw.get("name")
    return {
        "message": message if isinstance(message, str) else _json_text(message),
        "name": name if isinstance(name, str) else None,
        "stack": stack if isinstance(stack, str) else None,
        "cause": raw.get("cause"),
    }


def _json_text(value: JSON) -> str:
    return orjson.dumps(value).decode()


def _span_id(run_id: str, key: str) -> str:
    return hashlib.sha1(f"{run_id}:{key}".encode()).hexdigest()[:16]
