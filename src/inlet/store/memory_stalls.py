"""``MemoryStore``'s stall reads (``inlet.store.stalls.StallReads``) over its rows."""

from __future__ import annotations

from collections.abc import Mapping

from inlet.model import App, Event, ItemKind, Listener, ListenerKind
from inlet.store.memory_rows import Rows
from inlet.store.stalls import RUN_TIMEOUT_STEP, QuietRun, SkipTally, pending_of


class MemoryStalls:
    """Mixed into ``MemoryStore``, which sets ``_rows`` and keeps ``_error_since`` up to
    date in ``set_app_error`` and ``save_app``."""

    _rows: Rows
    _apps: dict[str, App]
    _error_since: dict[str, float]

    async def quiet_runs(self, before: float, limit: int = 100) -> list[QuietRun]:
        listeners: dict[str, list[Listener]] = {}
        for listener in self._rows.listeners.values():
            if listener.kind is not ListenerKind.CANCEL:
                listeners.setdefault(listener.run_id, []).append(listener)
        found = []
        for row in self._rows.runs.values():
            run = row.run
            if run.status.ended:
                continue
            slots = [
                s
                for s in self._rows.queue.values()
                if s.item.run_id == run.id
                and not (
                    s.item.kind is ItemKind.TIMER and s.item.step_id.startswith(RUN_TIMEOUT_STEP)
                )
            ]
            times = [run.created_at, run.started_at or 0.0]
            times += [a.ended_at for a in self._rows.attempts.get(run.id, ())]
            times += [m.recorded_at for m in self._rows.memos.get(run.id, {}).values()]
            times += [s.item.due_at for s in slots]
            times += [lst.expires_at for lst in listeners.get(run.id, ())]
            last = max(times)
            if last >= before:
                continue
            pending = pending_of(
                bool(slots),
                any(s.parked is not None for s in slots),
                any(s.lease is not None for s in slots),
            )
            found.append(QuietRun(run, last, pending))
        found.sort(key=lambda q: q.run.id)
        return found[:limit]

    async def skip_tally(self, since: float) -> list[SkipTally]:
        events: Mapping[str, Event] = self._rows.events
        tally: dict[tuple[str, str, str], list[float]] = {}
        for (event_id, slug), (reason, at) in self._rows.skip_times.items():
            if at < since:
                continue
            event = events.get(event_id)
            tally.setdefault((slug, event.name if event else "", reason), []).append(at)
        return [
            SkipTally(slug, name, reason, len(times), min(times), max(times))
            for (slug, name, reason), times in sorted(tally.items())
        ]

    async def app_errors_since(self) -> dict[str, float]:
        return {
            url: since
            for url, since in self._error_since.items()
            if url in self._apps and self._apps[url].error
        }

    def _note_app_error(self, url: str, error: str | None, now: float) -> None:
        if error:
            self._error_since.setdefault(url, now)
        else:
            self._error_since.pop(url, None)
