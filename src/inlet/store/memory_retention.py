"""``Store.purge`` over the memory store's rows, mixed into ``MemoryStore``: the rules of
``inlet.store.retention``, kept by the contract suite ``tests/store/test_retention.py``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from inlet.store.memory_rows import Rows
from inlet.store.retention import FINISHED, PurgeResult


class MemoryRetention:
    """``Store.purge`` over :class:`~inlet.store.memory_rows.Rows`."""

    _rows: Rows

    async def purge(
        self,
        before: float,
        limit: int,
        now: float,
        *,
        function_slug: str | None = None,
        exclude: Sequence[str] = (),
    ) -> PurgeResult:
        rows = self._rows
        skipped = set(exclude)
        ended = [
            row.run
            for row in rows.runs.values()
            if row.run.status in FINISHED
            and row.run.ended_at is not None
            and row.run.ended_at < before
            and (
                row.run.function_slug == function_slug
                if function_slug is not None
                else row.run.function_slug not in skipped
            )
        ]
        ended.sort(key=lambda run: run.ended_at or 0.0)
        attempts = memos = 0
        touched: set[str] = set()
        for run in ended[:limit]:
            del rows.runs[run.id]
            rows.singletons.pop(run.id, None)
            attempts += len(rows.attempts.pop(run.id, []))
            memos += len(rows.memos.pop(run.id, {}))
            rows.metadata.pop(run.id, None)
            for event_id in run.event_ids:
                linked = [r for r in rows.event_runs.get(event_id, []) if r != run.id]
                if linked:
                    rows.event_runs[event_id] = linked
                else:
                    rows.event_runs.pop(event_id, None)
                touched.add(event_id)
        runs = min(len(ended), limit)
        candidates: Iterable[str] = sorted(touched)
        if function_slug is None:
            old = [e for e in rows.events.values() if e.received_at < before]
            old.sort(key=lambda e: (e.received_at, e.internal_id))
            candidates = [e.internal_id for e in old]
        events = self._purge_events(candidates, before, limit)
        keys = 0
        if function_slug is None:
            expired = sorted(
                (k for k, held in rows.keys.items() if held[1] < now), key=lambda k: rows.keys[k][1]
            )[:limit]
            for key in expired:
                del rows.keys[key]
            keys = len(expired)
        return PurgeResult(runs, attempts, memos, events, keys)

    def _purge_events(self, candidates: Iterable[str], before: float, limit: int) -> int:
        rows = self._rows
        leased = [
            rows.runs[slot.item.run_id].run.created_at
            for slot in rows.queue.values()
            if slot.lease is not None and slot.item.run_id in rows.runs
        ]
        floor = min([before, *leased])
        waiting: dict[str, float] = {}
        for listener in rows.listeners.values():
            row = rows.runs.get(listener.run_id)
            if row is not None:
                at = waiting.get(listener.event, row.run.created_at)
                waiting[listener.event] = min(at, row.run.created_at)
        deleted = 0
        for event_id in candidates:
            if deleted >= limit:
                break
            event = rows.events.get(event_id)
            if event is None or event.received_at >= floor or rows.event_runs.get(event_id):
                continue
            if waiting.get(event.name, float("inf")) <= event.received_at:
                continue
            del rows.events[event_id]
            rows.event_runs.pop(event_id, None)
            for slug in rows.skips.pop(event_id, {}):
                rows.skip_times.pop((event_id, slug), None)
            deleted += 1
        return deleted
