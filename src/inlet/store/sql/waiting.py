"""The wait counts in SQL (``inlet.store.waiting.WaitReads``), mixed into
``RelationalStore``: the statement of ``waiting.sql``, on the read path."""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from inlet.store.sql.tx import Cursor
from inlet.store.waiting import WaitCount, WaitKind

T = TypeVar("T")

KINDS: dict[str, WaitKind] = {"sleep": "sleep", "wait": "event", "invoke": "invoke"}
"""The listeners' kinds as the wait kinds of the metric."""


class SqlWaiting:
    """Needs the store's ``_call`` and ``_x``."""

    @abc.abstractmethod
    async def _call(self, fn: Callable[..., T], *args: Any) -> T: ...

    @abc.abstractmethod
    def _x(self, name: str, args: Sequence[Any] = ()) -> Cursor: ...

    async def wait_counts(self) -> list[WaitCount]:
        rows = await self._call(self._wait_rows)
        counts = [WaitCount(str(slug), KINDS[str(kind)], int(n)) for slug, kind, n in rows]
        return sorted(counts, key=lambda c: (c.function_slug, c.kind))

    def _wait_rows(self) -> list[Any]:
        return list(self._x("wait_counts").fetchall())
