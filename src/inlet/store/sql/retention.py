"""Retention in SQL (``inlet.store.retention``), mixed into ``RelationalStore``: the
statements of ``retention.sql``, one transaction of the store thread per batch."""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import orjson

from inlet.store.retention import PurgeResult
from inlet.store.sql.tx import Connection, Cursor

T = TypeVar("T")


def _marks(sql: str, count: int) -> str:
    return sql.replace("{marks}", ",".join("?" * count))


class SqlRetention:
    """Needs the store's ``_write``, ``_x``, ``_q``, ``_conn`` and its event cache."""

    _q: Any
    _events: dict[str, Any]

    @abc.abstractmethod
    async def _write(self, fn: Callable[..., T], *args: Any) -> T: ...

    @abc.abstractmethod
    def _x(self, name: str, args: Sequence[Any] = ()) -> Cursor: ...

    @property
    @abc.abstractmethod
    def _conn(self) -> Connection: ...

    def _reclaim(self) -> None:
        """Give the space a batch freed back (SQLite: to the file system)."""

    async def purge(
        self,
        before: float,
        limit: int,
        now: float,
        *,
        function_slug: str | None = None,
        exclude: Sequence[str] = (),
    ) -> PurgeResult:
        return await self._write(self._purge, before, limit, now, function_slug, list(exclude))

    def _many(self, name: str, values: Sequence[Any], extra: Sequence[Any] = ()) -> Cursor:
        """``name`` with a ``?`` for each of ``values``, then ``extra``."""
        sql = _marks(self._q[name], len(values))
        return self._conn.execute(sql, [*values, *extra])

    def _purge(
        self,
        before: float,
        limit: int,
        now: float,
        function_slug: str | None,
        exclude: list[str],
    ) -> PurgeResult:
        if function_slug is not None:
            found = self._x("purge_runs_of", (function_slug, before, limit)).fetchall()
        else:
            # '' is no function's slug: NOT IN () is not SQL.
            names = exclude or [""]
            sql = _marks(self._q["purge_runs"], len(names))
            found = self._conn.execute(sql, [before, *names, limit]).fetchall()
        run_ids = [row[0] for row in found]
        attempts = memos = 0
        touched: dict[str, None] = {}
        if run_ids:
            links = []
            for run_id, blob in found:
                for event_id in orjson.loads(blob):
                    links.append((event_id, run_id))
                    touched[event_id] = None
            self._conn.executemany(self._q["purge_event_link"], links)
            attempts = self._many("purge_attempts", run_ids).rowcount
            memos = self._many("purge_memos", run_ids).rowcount
            self._many("purge_metadata", run_ids)
            self._many("purge_run_rows", run_ids)
        floor_row = self._x("purge_floor").fetchone()
        floor = before if floor_row is None or floor_row[0] is None else min(before, floor_row[0])
        if function_slug is None:
            rows = self._x("purge_old_events", (floor, limit)).fetchall()
        elif touched:
            rows = self._many("purge_events_of", list(touched), [floor]).fetchall()
        else:
            rows = []
        event_ids = [row[0] for row in rows]
        if event_ids:
            self._many("purge_skips", event_ids)
            self._shrink_skip_sets(event_ids)
            self._many("purge_event_rows", event_ids)
            for event_id in event_ids:
                self._events.pop(event_id, None)
        keys = self._x("purge_keys", (now, limit)).rowcount if function_slug is None else 0
        if run_ids or event_ids or keys:
            self._reclaim()
        return PurgeResult(len(run_ids), attempts, memos, len(event_ids), keys)

    def _shrink_skip_sets(self, event_ids: Sequence[str]) -> None:
        """Take the events about to be deleted out of the ingest refusals that name them
        (read through the events, so before they go); a set left naming none goes."""
        gone = set(event_ids)
        shrunk, dropped = [], []
        for set_id, slug, reason, listed in self._many("skip_sets_of_events", event_ids).fetchall():
            kept = [e for e in orjson.loads(listed) if e not in gone]
            if kept:
                shrunk.append((orjson.dumps(kept).decode(), set_id, slug, reason))
            else:
                dropped.append((set_id, slug, reason))
        if shrunk:
            self._conn.executemany(self._q["shrink_skip_set"], shrunk)
        if dropped:
            self._conn.executemany(self._q["drop_skip_set"], dropped)
