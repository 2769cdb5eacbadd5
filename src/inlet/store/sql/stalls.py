"""The stall reads in SQL (``inlet.store.stalls.StallReads``), mixed into ``RelationalStore``: the
statements of ``stalls.sql``, on the read path."""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from inlet.store.sql.rows import run_from
from inlet.store.sql.tx import Cursor
from inlet.store.stalls import QuietRun, SkipTally, pending_of

T = TypeVar("T")


class SqlStalls:
    """Needs the store's ``_call`` and ``_x``."""

    @abc.abstractmethod
    async def _call(self, fn: Callable[..., T], *args: Any) -> T: ...

    @abc.abstractmethod
    def _x(self, name: str, args: Sequence[Any] = ()) -> Cursor: ...

    def _stall_rows(self, name: str, args: Sequence[Any]) -> list[Any]:
        return list(self._x(name, args).fetchall())

    async def quiet_runs(self, before: float, limit: int = 100) -> list[QuietRun]:
        rows = await self._call(self._stall_rows, "quiet_runs", (before,) * 6 + (limit,))
        found = []
        for row in rows:
            run = run_from(row[:13])
            attempt, memo, due, expires, parked, leased = row[13:]
            times = [run.created_at, run.started_at, attempt, memo, due, expires]
            last = max(t for t in times if t is not None)
            found.append(
                QuietRun(run, last, pending_of(due is not None, bool(parked), bool(leased)))
            )
        return found

    async def skip_tally(self, since: float) -> list[SkipTally]:
        rows = await self._call(self._stall_rows, "skip_tally", (since,))
        return [SkipTally(*row) for row in rows]

    async def app_errors_since(self) -> dict[str, float]:
        rows = await self._call(self._stall_rows, "app_errors_since", ())
        return dict(rows)
