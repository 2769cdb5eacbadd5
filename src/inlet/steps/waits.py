"""What the waiting opcodes ask for: timers, listeners, invoke events (docs/protocol.md §6).

Pure. Ids are derived from the run and the step, so an opcode seen twice (a call repeated
after a crash) yields the same listener, timer and event, which the store's unique keys
turn into no-ops.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from inlet.errors import InvalidValue
from inlet.expr import ExpressionInvalid, equality_index, interpolate
from inlet.ids import derived_ulid
from inlet.model import (
    JSON,
    Event,
    ItemKind,
    Listener,
    ListenerKind,
    Memo,
    NewItem,
    Resume,
    RunState,
)
from inlet.protocol.duration import parse_time_or_duration
from inlet.steps.finish import FINISHED
from inlet.steps.ops import Op

MAX_SLEEP = 365 * 24 * 60 * 60.0
"""The longest sleep, wait timeout or invoke timeout: one year, as in Inngest
(inngest/inngest#4628), which fails the run rather than shorten what the function asked for."""
DEFAULT_INVOKE_TIMEOUT = MAX_SLEEP
JOINS_GROUP = "joins_group"
"""In a sleep timer's payload: the sleep was one of a parallel group's steps."""
INVOKED = "inngest/function.invoked"
"""The event ``step.invoke`` sends; it starts exactly the function it names."""
INVOKE_TIMEOUT_ERROR = {
    "name": "InngestInvokeTimeoutError",
    "message": "Timed out waiting for invoked function to complete",
}


class OpRejected(Exception):
    """The opcode cannot be honoured; the run fails with this message."""


@dataclass(slots=True)
class Effects:
    """What the waiting opcodes of one reply add to the outcome."""

    enqueue: list[NewItem] = field(default_factory=list)
    listeners: list[Listener] = field(default_factory=list)
    memos: list[Memo] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    discover: bool = False


def listener_id(run_id: str, step_id: str) -> str:
    return f"{run_id}:{step_id}"


def sleep(op: dict[str, Any], now: float, effects: Effects, in_group: bool = False) -> None:
    """A timer at the wake time. One planned with other steps (``in_group``) says so in its
    payload (``JOINS_GROUP``): the call after it still plans (``steps/timers.py``)."""
    opts = op.get("opts") or {}
    raw = (opts.get("duration") if isinstance(opts, dict) else None) or op.get("name")
    step_id, name = str(op.get("id", "")), _name(op)
    if raw == "":
        # TypeScript v3 writes a sleep in whole seconds and sends what is left of one
        # shorter than a second as an empty name: it asked for a sleep that ends now.
        raw = "0"
    if not isinstance(raw, str) or not raw:
        raise OpRejected(f"sleep {name!r} has no duration or time (got {raw!r})")
    try:
        wake = parse_time_or_duration(raw, now)
    except InvalidValue as exc:
        raise OpRejected(f"sleep {name!r}: {exc.message}") from None
    _within_a_year("sleep", name, raw, wake, now)
    effects.enqueue.append(
        NewItem(
            ItemKind.TIMER,
            step_id,
            max(wake, now),
            name=name,
            payload={"memo": None, "op": Op.SLEEP} | ({JOINS_GROUP: True} if in_group else {}),
        )
    )


def wait_for_event(op: dict[str, Any], state: RunState, now: float, effects: Effects) -> None:
    opts = op.get("opts") or {}
    if not isinstance(opts, dict):
        opts = {}
    step_id, name = str(op.get("id", "")), _name(op)
    event_name = opts.get("event") or op.get("name")
    if not isinstance(event_name, str) or not event_name:
        raise OpRejected(f"wait {name!r} names no event to wait for")
    timeout = opts.get("timeout")
    try:
        expires = parse_time_or_duration(timeout, now) if timeout else now
    except InvalidValue as exc:
        raise OpRejected(f"wait {name!r}: timeout {exc.message}") from None
    _within_a_year("wait", name, timeout, expires, now)
    expression = _interpolated(opts.get("if"), state, name)
    effects.listeners.append(
        Listener(
            id=listener_id(state.run.id, step_id),
            run_id=state.run.id,
            kind=ListenerKind.WAIT,
            event=event_name,
            expires_at=expires,
            step_id=step_id,
            expression=expression,
            index=_index(expression),
        )
    )
    effects.enqueue.append(
        NewItem(
            ItemKind.TIMER,
            step_id,
            expires,
            name=name,
            payload={"memo": None, "op": Op.WAIT_FOR_EVENT},
        )
    )


def invoke(op: dict[str, Any], state: RunState, now: float, exists: bool, effects: Effects) -> None:
    opts = op.get("opts") or {}
    if not isinstance(opts, dict):
        opts = {}
    step_id, name = str(op.get("id", "")), _name(op)
    target = opts.get("function_id")
    if not isinstance(target, str) or not exists:
        effects.memos.append(
            Memo(
                step_id,
                {
                    "error": {
                        "name": "Error",
                        "message": f"cannot invoke {target!r}: no such function is registered",
                    }
                },
                name,
                Op.INVOKE_FUNCTION,
            )
        )
        effects.discover = True
        return
    timeout = opts.get("timeout")
    try:
        expires = parse_time_or_duration(timeout, now) if timeout else now + DEFAULT_INVOKE_TIMEOUT
    except InvalidValue as exc:
        raise OpRejected(f"invoke {name!r}: timeout {exc.message}") from None
    _within_a_year("invoke", name, timeout, expires, now)
    run = state.run
    correlation = f"{run.id}.{step_id}"
    payload = opts.get("payload") or {}
    if not isinstance(payload, dict):
        payload = {}
    data = dict(payload.get("data") or {})
    data["_inngest"] = {
        "fn_id": target,
        "correlation_id": correlation,
        "expire": int(expires * 1000),
        "name": name,
        "source_fn_id": run.function_slug,
        "source_run_id": run.id,
    }
    # Derived from the run, not the clock: the same invoke reported again (by a later
    # discovery) is the same event and starts no second child run.
    internal_id = derived_ulid(run.created_at, f"invoke:{correlation}")
    user_id = payload.get("id")
    user = payload.get("user")
    effects.events.append(
        Event(
            internal_id=internal_id,
            name=INVOKED,
            data=data,
            id=user_id if isinstance(user_id, str) and user_id else internal_id,
            ts=int(now * 1000),
            v=payload.get("v") if isinstance(payload.get("v"), str) else None,
            user=user if isinstance(user, dict) else {},
            received_at=now,
            # The SDK's own (TS v4 stamps meta.propagated_sessions here): the child's
            # event carries it as a sent event would.
            meta=meta if isinstance(meta := payload.get("meta"), dict) else None,
        )
    )
    effects.listeners.append(
        Listener(
            id=listener_id(run.id, step_id),
            run_id=run.id,
            kind=ListenerKind.INVOKE,
            event=FINISHED,
            expires_at=expires,
            step_id=step_id,
            expression=f"async.data.correlation_id == {_cel_string(correlation)}",
            index=(("data.correlation_id", correlation),),
        )
    )
    effects.enqueue.append(
        NewItem(
            ItemKind.TIMER,
            step_id,
            expires,
            name=name,
            payload={"memo": {"error": INVOKE_TIMEOUT_ERROR}, "op": Op.INVOKE_FUNCTION},
        )
    )


def _within_a_year(what: str, name: str, raw: JSON, until: float, now: float) -> None:
    if until - now > MAX_SLEEP:
        days = (until - now) / 86400
        raise OpRejected(
            f"{what} {name!r}: {raw!r} is {days:.0f} days away, longer than the maximum of one "
            "year (365 days, as in Inngest); sleep, wait or invoke with at most a year in one "
            "step, or schedule the work with an event sent later"
        )


def invoke_result(finished: Event) -> JSON:
    """The memo of an invoke step from its child's ``inngest/function.finished`` event."""
    data = finished.data
    status = (data.get("_inngest") or {}).get("status")
    if data.get("error") is not None and status != "Completed":
        return {"error": data["error"]}
    return {"data": data.get("result")}


def invoke_refused(event: Event, reason: str) -> Resume | None:
    """When the run an invoke asked for is not started (rate limited, a duplicate...), the
    invoking step fails at once with the reason instead of waiting for its timeout."""
    if event.name != INVOKED:
        return None
    meta = event.data.get("_inngest")
    correlation = meta.get("correlation_id") if isinstance(meta, dict) else None
    if not isinstance(correlation, str) or "." not in correlation:
        return None
    run_id, step_id = correlation.split(".", 1)
    error = {
        "name": "InngestInvokeSkipped",
        "message": f"the invoked function did not run: {reason}",
    }
    return Resume(listener_id(run_id, step_id), run_id, step_id, {"error": error})


def _interpolated(source: JSON, state: RunState, name: str) -> str | None:
    if not isinstance(source, str) or not source.strip():
        return None
    trigger = state.events[0].to_wire() if state.events else {}
    try:
        return interpolate(source, {"event": trigger})
    except ExpressionInvalid as exc:
        raise OpRejected(f"wait {name!r}: {exc.message}") from None


def _index(expression: str | None) -> tuple[tuple[str, JSON], ...]:
    if expression is None:
        return ()
    pairs = equality_index(expression)
    return tuple(pairs[:1]) if pairs else ()


def _cel_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _name(op: dict[str, Any]) -> str:
    return str(op.get("displayName") or op.get("name") or op.get("id") or "")
