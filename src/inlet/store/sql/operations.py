"""Paused functions and bulk operations in SQL (``inlet.store.operations``), mixed into
``RelationalStore``: the statements of ``operations.sql``."""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import orjson

from inlet.store.operations import BulkOp, bulk_kind, bulk_state
from inlet.store.sql.tx import Connection, Cursor

T = TypeVar("T")


def _bulk_from(row: Sequence[Any]) -> BulkOp:
    (op_id, kind, slug, statuses, after, before, name, state, total, created, updated) = row[:11]
    done, changed, cursor, error = row[11:]
    return BulkOp(
        id=op_id,
        kind=bulk_kind(kind),
        function_slug=slug,
        statuses=tuple(orjson.loads(statuses)),
        created_after=after,
        created_before=before,
        name=name,
        state=bulk_state(state),
        total=total,
        created_at=created,
        updated_at=updated,
        done=done,
        changed=changed,
        cursor=cursor,
        error=error,
    )


class SqlOperations:
    """Needs the store's ``_call`` (reads), ``_write`` (writes), ``_x`` and ``_q``."""

    _q: Any

    @abc.abstractmethod
    async def _call(self, fn: Callable[..., T], *args: Any) -> T: ...

    @abc.abstractmethod
    async def _write(self, fn: Callable[..., T], *args: Any) -> T: ...

    @abc.abstractmethod
    def _x(self, name: str, args: Sequence[Any] = ()) -> Cursor: ...

    @property
    @abc.abstractmethod
    def _conn(self) -> Connection: ...

    def _noted_functions(self) -> None:
        """A function's set or state changed (other processes reload theirs)."""

    async def set_paused(self, function_slug: str, paused_at: float | None) -> bool:
        return await self._write(self._set_paused, function_slug, paused_at)

    def _set_paused(self, function_slug: str, paused_at: float | None) -> bool:
        if paused_at is None:
            changed = self._x("resume_function", (function_slug,)).rowcount > 0
        else:
            changed = self._x("pause_function", (function_slug, paused_at)).rowcount > 0
        if changed:
            self._noted_functions()
        return changed

    async def paused_functions(self) -> dict[str, float]:
        rows = await self._call(self._rows, "paused_functions", ())
        return {slug: at for slug, at in rows}

    def _rows(self, name: str, args: Sequence[Any]) -> list[Any]:
        return list(self._x(name, args).fetchall())

    async def create_bulk(self, op: BulkOp) -> None:
        args = (
            op.id,
            op.kind,
            op.function_slug,
            orjson.dumps(list(op.statuses)).decode(),
            op.created_after,
            op.created_before,
            op.name,
            op.state,
            op.total,
            op.done,
            op.changed,
            op.cursor,
            op.error,
            op.created_at,
            op.updated_at,
        )
        await self._write(self._x, "insert_bulk", args)

    async def get_bulk(self, op_id: str) -> BulkOp | None:
        rows = await self._call(self._rows, "get_bulk", (op_id,))
        return _bulk_from(rows[0]) if rows else None

    async def list_bulk(self, limit: int = 50) -> list[BulkOp]:
        return [_bulk_from(row) for row in await self._call(self._rows, "list_bulk", (limit,))]

    async def update_bulk(self, op: BulkOp) -> bool:
        args = (op.state, op.done, op.changed, op.cursor, op.error, op.updated_at, op.id)
        return await self._write(self._update_bulk, args)

    def _update_bulk(self, args: tuple[Any, ...]) -> bool:
        return self._x("update_bulk", args).rowcount > 0

    def _skips_sql(
        self, name: str, after: float | None, cursor: tuple[float, str] | None
    ) -> tuple[str, list[Any]]:
        extra: list[Any] = []
        sql = str(self._q[name])
        sql = sql.replace("{after}", "AND at >= ?" if after is not None else "")
        if after is not None:
            extra.append(after)
        sql = sql.replace("{cursor}", "AND (at < ? OR (at = ? AND event_id < ?))" if cursor else "")
        if cursor is not None:
            extra += [cursor[0], cursor[0], cursor[1]]
        return sql, extra

    async def skipped_events(
        self,
        function_slug: str,
        reason: str,
        after: float | None,
        before: float,
        cursor: tuple[float, str] | None,
        limit: int,
    ) -> list[tuple[str, float]]:
        sql, extra = self._skips_sql("skipped_events", after, cursor)
        args = [function_slug, reason, before, *extra, limit]
        rows = await self._call(self._raw, sql, args)
        return [(event_id, at) for event_id, at in rows]

    async def count_skipped(
        self, function_slug: str, reason: str, after: float | None, before: float
    ) -> int:
        sql, extra = self._skips_sql("count_skipped", after, None)
        rows = await self._call(self._raw, sql, [function_slug, reason, before, *extra])
        return int(rows[0][0])

    def _raw(self, sql: str, args: Sequence[Any]) -> list[Any]:
        return list(self._conn.execute(sql, args).fetchall())
