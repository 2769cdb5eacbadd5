"""``MemoryStore``'s read model (``inlet.store.queries``) over its rows: the dict twin of
``inlet.store.sql.reads``, kept apart from the engine's writes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from inlet.model import Attempt, Event, ItemKind, Run, RunState, RunStatus, SkipRecord
from inlet.store.engine import queue
from inlet.store.engine.tx import Tx
from inlet.store.memory_outcomes import MemoryOutcomes
from inlet.store.memory_rows import Rows
from inlet.store.memory_stalls import MemoryStalls
from inlet.store.queries import (
    MAX_EVENT_PAGE,
    MAX_STATS_RUNS,
    EventFilter,
    EventPage,
    FlowNow,
    GateNow,
    Page,
    QueueStats,
    RunFilter,
    RunTimes,
    Wait,
    concurrency_range,
    events_paged,
    page_size,
    paged,
    waits_of,
)


class MemoryReads(MemoryStalls, MemoryOutcomes):
    """Mixed into ``MemoryStore``, which sets ``_rows`` and ``_tx``; the stall reads of
    the alerts come with it."""

    _rows: Rows
    _tx: Tx

    async def skips(self, event_id: str) -> list[SkipRecord]:
        return sorted(self._rows.skips.get(event_id, {}).values(), key=lambda s: s.function_slug)

    async def get_event(self, internal_id: str) -> Event | None:
        return self._rows.events.get(internal_id)

    async def list_events(self, name: str | None, limit: int) -> list[Event]:
        found = [e for e in self._rows.events.values() if name is None or e.name == name]
        found.sort(key=lambda e: e.internal_id, reverse=True)
        return found[:limit]

    async def events(
        self, where: EventFilter, *, limit: int = 100, after: str | None = None
    ) -> EventPage:
        size = page_size(limit, MAX_EVENT_PAGE)
        found = sorted(
            (
                e
                for e in self._rows.events.values()
                if where.matches(e) and (after is None or e.internal_id < after)
            ),
            key=lambda e: e.internal_id,
            reverse=True,
        )
        return events_paged(found[: size + 1], size)

    async def events_by_id(self, internal_ids: Sequence[str]) -> dict[str, Event]:
        found = (self._rows.events.get(i) for i in internal_ids)
        return {e.internal_id: e for e in found if e is not None}

    async def stuck_runs(self, created_before: float, limit: int = 100) -> list[Run]:
        stuck = [
            row.run
            for row in self._rows.runs.values()
            if not row.run.status.ended
            and row.run.created_at < created_before
            and not self._tx.has_branch(row.run.id)
        ]
        return sorted(stuck, key=lambda r: r.id)[:limit]

    async def attempt_counts(self, run_ids: Sequence[str]) -> dict[str, int]:
        return {r: len(self._rows.attempts[r]) for r in run_ids if self._rows.attempts.get(r)}

    async def run_waits(self, run_id: str) -> list[Wait]:
        listeners = [
            (lst.kind.value, lst.event, lst.expression, lst.step_id, lst.expires_at)
            for lst in self._rows.listeners.values()
            if lst.run_id == run_id
        ]
        timers = [
            (s.item.step_id, s.item.due_at, s.item.name, s.item.payload)
            for s in self._rows.queue.values()
            if s.item.run_id == run_id and s.item.kind is ItemKind.TIMER
        ]
        return waits_of(listeners, timers)

    async def flow_now(self, function_slug: str, now: float) -> FlowNow:
        own, low, high = concurrency_range(function_slug)

        def mine(key: str | None) -> bool:
            return key is not None and (key == own or low < key < high)

        in_flight: dict[str, int] = {}
        for held in self._rows.inflight.values():
            for key, _ in held:
                if mine(key):
                    in_flight[key] = in_flight.get(key, 0) + 1
        waiting: dict[str, int] = {}
        delayed = 0
        for slot in self._rows.queue.values():
            if mine(slot.parked):
                assert slot.parked is not None
                waiting[slot.parked] = waiting.get(slot.parked, 0) + 1
            row = self._rows.runs.get(slot.item.run_id)
            if (
                row is not None
                and row.run.function_slug == function_slug
                and row.run.status is RunStatus.QUEUED
                and slot.item.kind is ItemKind.DISCOVERY
                and slot.lease is None
                and slot.parked is None
                and slot.item.due_at > now
            ):
                delayed += 1
        gates = tuple(
            GateNow(gate, key, state.tat, state.run_id, state.size)
            for (slug, gate, key), state in sorted(self._rows.gates.items())
            if slug == function_slug
        )
        return FlowNow(in_flight, waiting, delayed, gates)

    async def get_run(self, run_id: str) -> Run | None:
        row = self._rows.runs.get(run_id)
        return None if row is None else row.run

    async def runs_for_event(self, event_id: str) -> list[Run]:
        runs = (self._rows.runs[r].run for r in self._rows.event_runs.get(event_id, []))
        return sorted(runs, key=lambda r: r.id)

    async def list_runs(
        self,
        function_slug: str | None,
        *,
        active: bool,
        created_after: float | None = None,
        created_before: float | None = None,
        limit: int = 1000,
    ) -> list[Run]:
        runs = [
            row.run
            for row in self._rows.runs.values()
            if (function_slug is None or row.run.function_slug == function_slug)
            and (not active or not row.run.status.ended)
            and (created_after is None or row.run.created_at >= created_after)
            and (created_before is None or row.run.created_at <= created_before)
        ]
        return sorted(runs, key=lambda r: r.id, reverse=True)[:limit]

    async def runs(self, where: RunFilter, *, limit: int = 50, after: str | None = None) -> Page:
        size = page_size(limit)
        runs = sorted(
            (
                row.run
                for row in self._rows.runs.values()
                if where.matches(row.run) and (after is None or row.run.id < after)
            ),
            key=lambda r: r.id,
            reverse=True,
        )
        return paged(runs[: size + 1], size)

    async def run_counts(self, where: RunFilter) -> dict[RunStatus, int]:
        every_status = replace(where, statuses=())
        counts: dict[RunStatus, int] = {}
        for row in self._rows.runs.values():
            if every_status.matches(row.run):
                counts[row.run.status] = counts.get(row.run.status, 0) + 1
        return counts

    async def run_times(
        self, function_slug: str | None, since: float, until: float
    ) -> list[RunTimes]:
        where = RunFilter(function_slug=function_slug, created_after=since, created_before=until)
        runs = sorted(
            (row.run for row in self._rows.runs.values() if where.matches(row.run)),
            key=lambda r: (r.created_at, r.id),
        )[:MAX_STATS_RUNS]
        return [
            RunTimes(r.function_slug, r.status, r.created_at, r.started_at, r.ended_at)
            for r in runs
        ]

    async def run_state(self, run_id: str) -> RunState | None:
        state = queue.run_state(self._tx, run_id)
        if state is None:
            return None
        return replace(state, pending_items=len(self._rows.run_items.get(run_id, {})))

    async def history(self, run_id: str) -> list[Attempt]:
        return list(self._rows.attempts.get(run_id, []))

    async def queue_stats(self, now: float) -> list[QueueStats]:
        found: dict[str, dict[str, Any]] = {}
        calls: set[str] = set()
        timed: set[str] = set()
        for slot in self._rows.queue.values():
            item = slot.item
            row = self._rows.runs.get(item.run_id)
            if row is None:
                continue
            if item.kind is ItemKind.TIMER:
                timed.add(item.run_id)
            else:
                calls.add(item.run_id)
            counts = found.setdefault(row.run.function_slug, {})
            if slot.parked is not None:
                counts["parked"] = counts.get("parked", 0) + 1
            elif (
                item.due_at > now
                and slot.lease is None
                and item.kind is ItemKind.DISCOVERY
                and row.run.status is RunStatus.QUEUED
            ):
                counts["delayed"] = counts.get("delayed", 0) + 1
            if item.due_at > now:
                continue
            counts["due"] = counts.get("due", 0) + 1
            oldest = counts.get("oldest_due_at")
            counts["oldest_due_at"] = item.due_at if oldest is None else min(oldest, item.due_at)
        for run_id in timed - calls:
            counts = found.setdefault(self._rows.runs[run_id].run.function_slug, {})
            counts["waiting"] = counts.get("waiting", 0) + 1
        for row in self._rows.runs.values():
            if row.run.status in (RunStatus.QUEUED, RunStatus.RUNNING):
                counts = found.setdefault(row.run.function_slug, {})
                status = row.run.status.value.lower()
                counts[status] = counts.get(status, 0) + 1
        return [QueueStats(slug, **found[slug]) for slug in sorted(found)]
