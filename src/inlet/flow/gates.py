"""Admission: the flow-control gates a new run passes, in their one declared order.

:data:`ORDER` is the order the engine (``inlet.store.engine.admit``) walks; each gate here
is the pure decision for the values a run carries (``RunFlow``, keys already evaluated)
and the gate's stored state, which goes in and comes back out as a value. The order is
the Go server's: a duplicate or idempotent event is dropped before it can use up a rate
limit; a rate-limited event never reaches a batch or a debounce; batch and debounce
collect events instead of starting a run; a singleton decides before throttle reserves a
start slot, so a skipped run takes no slot.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal, TypeAlias

from inlet.flow import gcra
from inlet.flow.batch import BatchState, add_to_batch
from inlet.flow.concurrency import Candidate, select
from inlet.flow.config import Batch, Debounce, RateLimit, Singleton, Throttle
from inlet.flow.debounce import DebounceState, debounce
from inlet.flow.decision import Decision
from inlet.flow.singleton import SingletonDecision, singleton
from inlet.model import Buffer, Rate

Gate: TypeAlias = Literal["idempotency", "rate_limit", "batch", "debounce", "singleton", "throttle"]

ORDER: tuple[Gate, ...] = (
    "idempotency",
    "rate_limit",
    "batch",
    "debounce",
    "singleton",
    "throttle",
)
"""The gates in the order a new run meets them (after its own unique key)."""


def throttle_gate(tat: float | None, now: float, rate: Rate) -> tuple[Decision, float]:
    """Admit or delay one start; the new TAT to store (excess starts wait, never drop)."""
    limit = Throttle(limit=rate.limit, period=rate.period, burst=rate.burst)
    return gcra.throttle(tat, now, limit)


def rate_limit_gate(tat: float | None, now: float, rate: Rate) -> tuple[Decision, float | None]:
    """Admit or skip one event; the new TAT to store (None: leave it unchanged)."""
    return gcra.rate_limit(tat, now, RateLimit(limit=rate.limit, period=rate.period))


def batch_gate(
    buffer: BatchState | None, event_id: str, event_bytes: int, now: float, batch: Buffer
) -> tuple[BatchState, bool]:
    """The batch buffer after ``event_id`` arrives, and whether its run starts now."""
    cfg = Batch(max_size=batch.max_size, timeout=batch.timeout or 0.0)
    return add_to_batch(buffer, event_id, now, cfg, event_bytes=event_bytes)


def debounce_gate(
    pending: DebounceState | None, event_id: str, event_ts: float, now: float, buffer: Buffer
) -> DebounceState:
    """The pending debounce after ``event_id`` (sent at ``event_ts``) arrives."""
    cfg = Debounce(period=buffer.period, timeout=buffer.timeout)
    return debounce(pending, event_id, now, cfg, event_ts=event_ts)


def singleton_gate(active_run_id: str | None, mode: str) -> SingletonDecision:
    """Admit, skip, or cancel the active run of the key first."""
    return singleton(active_run_id, Singleton(mode="cancel" if mode == "cancel" else "skip"))


def concurrency_gate(
    candidates: Sequence[Candidate], in_flight: Mapping[str, int], capacity: int
) -> tuple[set[str], dict[str, str]]:
    """The ids that may start now, and for each one held back by a full key, that key
    (where it is parked until a slot of that key frees)."""
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
