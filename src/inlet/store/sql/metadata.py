"""Run metadata in SQL (``inlet.store.metadata``), mixed into ``RelationalStore``: the
statements of ``metadata.sql``. An update reads the run's rows, folds the updates over them
and writes back the changed ones, all in one transaction of the store thread."""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import orjson

from inlet.store.metadata import MetadataUpdate, RunMetadata, fold
from inlet.store.sql.tx import Cursor

T = TypeVar("T")


class SqlMetadata:
    """Needs the store's ``_call`` (reads), ``_write`` (writes) and ``_x``."""

    @abc.abstractmethod
    async def _call(self, fn: Callable[..., T], *args: Any) -> T: ...

    @abc.abstractmethod
    async def _write(self, fn: Callable[..., T], *args: Any) -> T: ...

    @abc.abstractmethod
    def _x(self, name: str, args: Sequence[Any] = ()) -> Cursor: ...

    async def update_metadata(
        self, run_id: str, updates: Sequence[MetadataUpdate], now: float
    ) -> bool:
        return await self._write(self._update_metadata, run_id, list(updates), now)

    def _update_metadata(self, run_id: str, updates: list[MetadataUpdate], now: float) -> bool:
        if self._x("run_exists", (run_id,)).fetchone() is None:
            return False
        current = {(m.step_id, m.kind): m for m in self._metadata_of(run_id)}
        for row in fold(run_id, current, updates, now).values():
            body = orjson.dumps(dict(row.values))
            self._x("upsert_metadata", (run_id, row.step_id, row.kind, body, now))
        return True

    async def run_metadata(self, run_id: str) -> list[RunMetadata]:
        return await self._call(self._metadata_of, run_id)

    def _metadata_of(self, run_id: str) -> list[RunMetadata]:
        rows = self._x("metadata_of", (run_id,)).fetchall()
        return [
            RunMetadata(run_id, step_id, kind, orjson.loads(body), updated_at)
            for step_id, kind, body, updated_at in rows
        ]
