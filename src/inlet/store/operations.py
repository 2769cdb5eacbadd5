"""Operating on functions and runs, as the store keeps it: which functions are paused,
and bulk operations (replay or cancel the runs of a function) with their progress; and
the in-memory tables behind ``MemoryStore``'s verbs for both."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Final, Literal

from inlet.errors import StoreError

PAUSED: Final = "function paused"
"""The skip reason of an event that a paused function did not run (replayable later)."""

SKIPPED: Final = "Skipped"
"""The status a bulk replay names to replay the events a paused function skipped."""

BulkKind = Literal["replay", "cancel"]
BulkState = Literal["running", "done", "cancelled", "failed"]

BULK_KINDS: Final[tuple[BulkKind, ...]] = ("replay", "cancel")
BULK_STATES: Final[tuple[BulkState, ...]] = ("running", "done", "cancelled", "failed")


@dataclass(frozen=True, slots=True)
class BulkOp:
    """A bulk replay or cancel of the runs of one function, by status and creation time.

    It walks its runs newest first, a page at a time; ``cursor`` is where the next page
    starts (``None``: from the newest), ``done`` how many runs (or skipped events) it has
    looked at of ``total`` counted when it was made, ``changed`` how many it replayed or
    cancelled. ``created_before`` is never after the operation's own creation, so the runs
    a replay makes are never replayed by it again."""

    id: str
    kind: BulkKind
    function_slug: str
    statuses: tuple[str, ...]
    created_after: float | None
    created_before: float
    name: str
    state: BulkState
    total: int
    created_at: float
    updated_at: float
    done: int = 0
    changed: int = 0
    cursor: str | None = None
    error: str | None = None

    @property
    def finished(self) -> bool:
        return self.state != "running"


def bulk_kind(value: str) -> BulkKind:
    for known in BULK_KINDS:
        if value == known:
            return known
    raise StoreError(f"bulk operation kind {value!r} is unknown; expected one of {BULK_KINDS}")


def bulk_state(value: str) -> BulkState:
    for known in BULK_STATES:
        if value == known:
            return known
    raise StoreError(f"bulk operation state {value!r} is unknown; expected one of {BULK_STATES}")


def newest_first(skips: Iterable[tuple[str, float]]) -> list[tuple[str, float]]:
    """Skipped events ``(event id, at)`` in the order a replay walks them."""
    return sorted(skips, key=lambda s: (s[1], s[0]), reverse=True)


def after_cursor(
    skips: list[tuple[str, float]], cursor: tuple[float, str] | None
) -> list[tuple[str, float]]:
    """The skips (newest first) strictly after ``cursor`` ``(at, event id)``."""
    if cursor is None:
        return skips
    return [s for s in skips if (s[1], s[0]) < cursor]


class MemoryOperations:
    """The ``paused_functions`` and ``bulk_ops`` tables as dicts, mixed into ``MemoryStore``
    (the skips live in its rows: ``_skip_times``)."""

    _paused: dict[str, float]
    _skip_times: dict[tuple[str, str], tuple[str, float]]

    def __init__(self) -> None:
        self._bulk: dict[str, BulkOp] = {}

    async def set_paused(self, function_slug: str, paused_at: float | None) -> bool:
        if paused_at is None:
            return self._paused.pop(function_slug, None) is not None
        if function_slug in self._paused:
            return False
        self._paused[function_slug] = paused_at
        return True

    async def paused_functions(self) -> dict[str, float]:
        return dict(self._paused)

    async def create_bulk(self, op: BulkOp) -> None:
        if op.id in self._bulk:
            raise StoreError(f"bulk operation {op.id!r} is already stored")
        self._bulk[op.id] = op

    async def get_bulk(self, op_id: str) -> BulkOp | None:
        return self._bulk.get(op_id)

    async def list_bulk(self, limit: int = 50) -> list[BulkOp]:
        ops = sorted(self._bulk.values(), key=lambda o: (o.created_at, o.id), reverse=True)
        return ops[:limit]

    async def update_bulk(self, op: BulkOp) -> bool:
        stored = self._bulk.get(op.id)
        if stored is None or stored.finished:
            return False
        self._bulk[op.id] = replace(
            stored,
            state=op.state,
            done=op.done,
            changed=op.changed,
            cursor=op.cursor,
            error=op.error,
            updated_at=op.updated_at,
        )
        return True

    def _skipped(
        self, function_slug: str, reason: str, after: float | None, before: float
    ) -> list[tuple[str, float]]:
        return newest_first(
            (event_id, at)
            for (event_id, slug), (why, at) in self._skip_times.items()
            if slug == function_slug
            and why == reason
            and at <= before
            and (after is None or at >= after)
        )

    async def skipped_events(
        self,
        function_slug: str,
        reason: str,
        after: float | None,
        before: float,
        cursor: tuple[float, str] | None,
        limit: int,
    ) -> list[tuple[str, float]]:
        return after_cursor(self._skipped(function_slug, reason, after, before), cursor)[:limit]

    async def count_skipped(
        self, function_slug: str, reason: str, after: float | None, before: float
    ) -> int:
        return len(self._skipped(function_slug, reason, after, before))
