"""Debounce: one run per quiet ``period`` per key, receiving the last event (docs/protocol.md §9).

Per :func:`~inlet.flow.keys.debounce_key` the store keeps at most one pending debounce.
Each matching event replaces the stored event and pushes the due time out to
``now + period``, but never past ``first_at + timeout`` when a timeout is set (Go's
``updateDebounce.lua`` caps the TTL at the timeout stored when the debounce was created).

At the due time the store starts one run with the stored (latest) event and deletes the
pending debounce; an event arriving after that starts a new debounce (``pending=None``).
Go does the same: an update that finds the debounce's job already leased fails with
``ErrDebounceInProgress`` and is retried as a new debounce. Go adds about two seconds
of slack to the job's time (``buffer + 1s``); Inlet fires at the due time itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from inlet.flow.config import Debounce


@dataclass(frozen=True, slots=True)
class DebounceState:
    """A pending debounced run.

    ``event_id`` is the event the run will receive (the latest accepted); ``event_ts`` its
    ``ts`` when known; ``first_at`` when the first event of this debounce arrived;
    ``due_at`` when the run starts; ``deadline`` is ``first_at + timeout`` (or ``None``).
    """

    event_id: str
    first_at: float
    due_at: float
    deadline: float | None = None
    event_ts: float | None = None


def debounce(
    pending: DebounceState | None,
    event_id: str,
    now: float,
    cfg: Debounce,
    *,
    event_ts: float | None = None,
) -> DebounceState:
    """The pending debounce after event ``event_id`` arrives at ``now``.

    The due time is ``max(now, min(now + period, deadline))``: never later than the
    deadline set by the first event, never earlier than this event (if the deadline has
    already passed the run is due at once). An event whose ``event_ts`` is older than the
    stored event's leaves the debounce unchanged, as Go's out-of-order check does.
    """
    if pending is None:
        deadline = None if cfg.timeout is None else now + cfg.timeout
        return DebounceState(
            event_id=event_id,
            first_at=now,
            due_at=_due(now, cfg.period, deadline),
            deadline=deadline,
            event_ts=event_ts,
        )
    if event_ts is not None and pending.event_ts is not None and event_ts < pending.event_ts:
        return pending
    return DebounceState(
        event_id=event_id,
        first_at=pending.first_at,
        due_at=_due(now, cfg.period, pending.deadline),
        deadline=pending.deadline,
        event_ts=event_ts,
    )


def _due(now: float, period: float, deadline: float | None) -> float:
    due = now + period
    if deadline is not None and due > deadline:
        due = max(deadline, now)
    return due
