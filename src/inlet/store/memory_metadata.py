"""Run metadata over the memory store's rows (``inlet.store.metadata``), mixed into
``MemoryStore``; the contract suite ``tests/store/test_metadata.py`` keeps it equal to SQL."""

from __future__ import annotations

from collections.abc import Sequence

from inlet.store.memory_rows import Rows
from inlet.store.metadata import MetadataUpdate, RunMetadata, fold


class MemoryMetadata:
    _rows: Rows

    async def update_metadata(
        self, run_id: str, updates: Sequence[MetadataUpdate], now: float
    ) -> bool:
        if run_id not in self._rows.runs:
            return False
        rows = self._rows.metadata.setdefault(run_id, {})
        rows.update(fold(run_id, rows, updates, now))
        return True

    async def run_metadata(self, run_id: str) -> list[RunMetadata]:
        rows = self._rows.metadata.get(run_id, {})
        return [rows[key] for key in sorted(rows)]
