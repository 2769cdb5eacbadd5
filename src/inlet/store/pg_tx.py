"""A PostgreSQL claim's transaction port: the due calls asked along with the due timers.

A claim reads the due timers, then the due calls (``engine.queue.claim``); each answer read
at once cost a round trip of its own, one after the other. Here the question for the calls
is sent with the one for the timers, before either answer is read, so the pipeline brings
both back in one round trip. Both lock what they return (``FOR UPDATE SKIP LOCKED``) in the
same transaction, in the order they had before, so nothing another process sees changes.
"""

from __future__ import annotations

from collections.abc import Mapping

from inlet.store.engine.tx import Due
from inlet.store.sql.tx import Connection, Cursor, Hooks, SqlTx


class ClaimTx(SqlTx):
    """``SqlTx`` for a claim that will ask for up to ``calls`` due calls at ``now`` (the
    engine's arguments to ``due_items``): that question goes out with ``due_timers``."""

    __slots__ = ("_ahead", "_calls")

    def __init__(
        self, db: Connection, q: Mapping[str, str], hooks: Hooks, now: float, calls: int
    ) -> None:
        super().__init__(db, q, hooks)
        self._calls = (now, calls)
        self._ahead: Cursor | None = None

    def due_timers(self, now: float, limit: int) -> list[Due]:
        timers = self._x("due_timers", (now, limit))
        if self._ahead is None and self._calls[1] > 0:
            at, calls = self._calls
            self._ahead = self._x("due_items", (at + self.hooks.horizon(self.db), at, calls))
        return self._due(timers.fetchall())

    def due_items(self, now: float, limit: int) -> list[Due]:
        ahead, self._ahead = self._ahead, None
        if ahead is not None and (now, limit) == self._calls:
            return self._due(ahead.fetchall())
        return super().due_items(now, limit)
