"""``MemoryStore``'s twin of ``event_outcomes`` (``inlet.store.outcomes``) over its rows."""

from __future__ import annotations

from collections.abc import Sequence

from inlet.store.memory_rows import Rows
from inlet.store.outcomes import EventOutcome, outcomes_of, wanted


class MemoryOutcomes:
    """Needs ``MemoryStore``'s ``_rows``."""

    _rows: Rows

    async def event_outcomes(self, event_ids: Sequence[str]) -> dict[str, EventOutcome]:
        ids = wanted(event_ids)
        runs = [
            (e, self._rows.runs[r].run)
            for e in ids
            for r in self._rows.event_runs.get(e, [])
            if r in self._rows.runs
        ]
        skips = [s for e in ids for s in self._rows.skips.get(e, {}).values()]
        return outcomes_of(ids, runs, skips)
