"""The flow gates as the stores apply them: ``inlet.flow``'s pure decisions on the
evaluated values a run carries (``Rate``), and concurrency selection with parking."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from inlet.flow import gcra
from inlet.flow.concurrency import Candidate, select
from inlet.flow.config import RateLimit, Throttle
from inlet.flow.decision import Decision, Delay, Skip
from inlet.model import Cancellation, Finish, Rate, RunState, RunStatus
from inlet.steps import finish as system_events

__all__ = ["Delay", "Skip", "admit", "rate_limit", "replaced_singleton", "throttle"]


def throttle(tat: float | None, now: float, rate: Rate) -> tuple[Decision, float]:
    return gcra.throttle(tat, now, Throttle(limit=rate.limit, period=rate.period, burst=rate.burst))


def rate_limit(tat: float | None, now: float, rate: Rate) -> tuple[Decision, float | None]:
    return gcra.rate_limit(tat, now, RateLimit(limit=rate.limit, period=rate.period))


def admit(
    candidates: Sequence[Candidate], in_flight: Mapping[str, int], capacity: int
) -> tuple[set[str], dict[str, str]]:
    """The ids that may start now, and for each one held back by a full key, that key
    (the store parks it there until a slot of that key frees)."""
    selection = select(candidates, in_flight, capacity)
    picked = {c.id for c in selection.picked}
    parked = {}
    for candidate in candidates:
        if candidate.id in picked:
            continue
        full = next((k for k, _ in candidate.keys if k in selection.full_keys), None)
        if full is not None:
            parked[candidate.id] = full
    return picked, parked


def replaced_singleton(state: RunState, by: str, now: float) -> Cancellation:
    """The cancellation of the active run of a singleton key that run ``by`` replaces."""
    reason = f"singleton: replaced by run {by}"
    error = {
        "error": f"FunctionCancelled: {reason}",
        "name": "FunctionCancelled",
        "message": reason,
        "stack": "",
    }
    finish = Finish(RunStatus.CANCELLED, output=error, error=error)
    return Cancellation(state.run.id, error, tuple(system_events.for_finish(state, finish, now)))
