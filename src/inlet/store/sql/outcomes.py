"""What the events of a page led to, in SQL (``inlet.store.outcomes``), mixed into
``RelationalStore``: two statements of ``outcomes.sql`` on one trip to the database,
whatever the number of events."""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from inlet.model import Run, SkipRecord
from inlet.store.outcomes import EventOutcome, outcomes_of, wanted
from inlet.store.sql.rows import run_from
from inlet.store.sql.tx import Connection

T = TypeVar("T")


class SqlOutcomes:
    """Needs the store's ``_call``, ``_conn`` and named queries ``_q``."""

    _q: Mapping[str, str]

    @abc.abstractmethod
    async def _call(self, fn: Callable[..., T], *args: Any) -> T: ...

    @property
    @abc.abstractmethod
    def _conn(self) -> Connection: ...

    async def event_outcomes(self, event_ids: Sequence[str]) -> dict[str, EventOutcome]:
        ids = wanted(event_ids)
        return await self._call(self._event_outcomes, ids) if ids else {}

    def _event_outcomes(self, ids: list[str]) -> dict[str, EventOutcome]:
        marks = ",".join("?" * len(ids))
        runs: list[tuple[str, Run]] = [
            (row[0], run_from(tuple(row[1:])))
            for row in self._conn.execute(
                self._q["runs_of_events"].replace("{marks}", marks), ids
            ).fetchall()
        ]
        skips = [
            SkipRecord(*row)
            for row in self._conn.execute(
                self._q["skips_of_events"].replace("{marks}", marks), ids + ids
            ).fetchall()
        ]
        return outcomes_of(ids, runs, skips)
