"""How a run ends, as others see it: the system events it emits (docs/protocol.md §7.3) and the
``StandardError`` a failed or cancelled run carries. Pure."""

from __future__ import annotations

from inlet.ids import new_ulid
from inlet.model import JSON, Event, Finish, RunState, RunStatus

FINISHED = "inngest/function.finished"
FAILED = "inngest/function.failed"
CANCELLED = "inngest/function.cancelled"
SYSTEM_PREFIX = "inngest/function."


def standard_error(
    name: str, message: str, stack: str = "", *, error: str | None = None
) -> dict[str, JSON]:
    """Inngest's ``StandardError``: what ``inngest/function.failed`` and the run's output
    carry, and what the SDKs' own test suites compare. ``error`` is the one-line summary,
    ``name: message`` unless the caller has a better one (a failure of Inlet's own, whose
    reason already reads as a sentence, keeps it as it is)."""
    return {
        "error": f"{name}: {message}" if error is None else error,
        "name": name,
        "message": message,
        "stack": stack,
    }


def for_finish(state: RunState, finish: Finish, now: float) -> list[Event]:
    """``finished`` always, plus ``failed`` or ``cancelled`` (whose id is the run id, so a
    repeat is a duplicate). A run started by a system event emits nothing: no recursion."""
    first = state.events[0] if state.events else None
    if first is not None and first.name in (FINISHED, FAILED, CANCELLED):
        return []
    data: dict[str, JSON] = {
        "function_id": state.run.function_slug,
        "run_id": state.run.id,
        "event": first.to_wire() if first else {},
        "events": [e.to_wire() for e in state.events],
        "_inngest": {"status": finish.status.value.capitalize()},
    }
    if finish.status is RunStatus.COMPLETED and finish.output is not None:
        data["result"] = finish.output
    if finish.error is not None:
        data["error"] = finish.error
    meta = first.data.get("_inngest") if first is not None else None
    if isinstance(meta, dict) and meta.get("correlation_id"):
        # This run was step.invoke'd: its parent waits for exactly this id.
        data["correlation_id"] = meta["correlation_id"]
    ts = int(now * 1000)
    finished_id = new_ulid(now)
    events = [
        Event(
            internal_id=finished_id,
            name=FINISHED,
            data=data,
            id=finished_id,
            ts=ts,
            received_at=now,
        )
    ]
    ending = {RunStatus.FAILED: FAILED, RunStatus.CANCELLED: CANCELLED}.get(finish.status)
    if ending is not None:
        # Its id is the run's, so a repeat of this run's ending is a duplicate event.
        events.append(
            Event(
                internal_id=new_ulid(now),
                name=ending,
                data=data,
                id=state.run.id,
                ts=ts,
                received_at=now,
            )
        )
    return events
