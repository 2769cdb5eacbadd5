"""The in-memory twin of the SQLite store: the same contract, no persistence.

For unit tests and for users' tests (see ``inlet.testing``)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, replace

from inlet.ids import new_ulid
from inlet.model import (
    App,
    Attempt,
    Event,
    Function,
    ItemKind,
    NewItem,
    NewRun,
    Outcome,
    QueueItem,
    Run,
    RunState,
    RunStatus,
    StoredMemo,
)
from inlet.store.base import Claim, IngestResult, Store


@dataclass(slots=True)
class _Slot:
    item: QueueItem
    lease: str | None = None


class MemoryStore(Store):
    def __init__(self) -> None:
        self._apps: dict[str, App] = {}
        self._functions: dict[str, Function] = {}
        self._events: dict[str, Event] = {}
        self._runs: dict[str, Run] = {}
        self._run_events: dict[str, list[str]] = {}
        self._event_runs: dict[str, list[str]] = {}
        self._keys: dict[tuple[str, str], float] = {}
        self._memos: dict[str, dict[str, StoredMemo]] = {}
        self._queue: dict[str, _Slot] = {}
        self._history: dict[str, list[Attempt]] = {}
        self._leases = itertools.count(1)

    # Apps and functions

    async def save_app(self, app: App, functions: Sequence[Function]) -> bool:
        old = self._apps.get(app.url)
        self._apps[app.url] = app
        for slug in [s for s, f in self._functions.items() if f.app_url == app.url]:
            del self._functions[slug]
        for fn in functions:
            self._functions[fn.slug] = fn
        return old is None or old.checksum != app.checksum

    async def set_app_error(self, url: str, error: str | None, now: float) -> None:
        app = self._apps.get(url)
        if app is None:
            self._apps[url] = App(url=url, app_id="", error=error, synced_at=0.0)
        else:
            self._apps[url] = replace(app, error=error)

    async def list_apps(self) -> list[App]:
        return list(self._apps.values())

    async def list_functions(self) -> list[Function]:
        return list(self._functions.values())

    # Events and runs

    async def ingest(
        self, events: Sequence[Event], runs: Sequence[NewRun], now: float, key_ttl: float
    ) -> IngestResult:
        new_events: list[str] = []
        for event in events:
            if event.internal_id not in self._events:
                self._events[event.internal_id] = event
                new_events.append(event.internal_id)
        created: list[str] = []
        for new in runs:
            key = (new.function_slug, new.key)
            expires = self._keys.get(key)
            if expires is not None and expires > now:
                continue
            self._keys[key] = now + key_ttl
            self._runs[new.id] = Run(
                id=new.id,
                function_slug=new.function_slug,
                event_ids=new.event_ids,
                status=RunStatus.QUEUED,
                created_at=now,
            )
            for event_id in new.event_ids:
                self._event_runs.setdefault(event_id, []).append(new.id)
            self._enqueue(new.id, NewItem(ItemKind.DISCOVERY, "step", new.due_at), now)
            created.append(new.id)
        return IngestResult(tuple(new_events), tuple(created))

    async def get_event(self, internal_id: str) -> Event | None:
        return self._events.get(internal_id)

    async def list_events(self, name: str | None, limit: int) -> list[Event]:
        found = [e for e in self._events.values() if name is None or e.name == name]
        found.sort(key=lambda e: e.internal_id, reverse=True)
        return found[:limit]

    async def get_run(self, run_id: str) -> Run | None:
        return self._runs.get(run_id)

    async def runs_for_event(self, event_id: str) -> list[Run]:
        return [self._runs[r] for r in self._event_runs.get(event_id, [])]

    async def run_state(self, run_id: str) -> RunState | None:
        run = self._runs.get(run_id)
        if run is None:
            return None
        memos = sorted(self._memos.get(run_id, {}).values(), key=lambda m: m.seq)
        pending = sum(1 for s in self._queue.values() if s.item.run_id == run_id)
        events = tuple(self._events[e] for e in run.event_ids if e in self._events)
        return RunState(run=run, events=events, memos=tuple(memos), pending_items=pending)

    async def history(self, run_id: str) -> list[Attempt]:
        return list(self._history.get(run_id, []))

    # Queue

    async def claim(self, now: float, limit: int, lease_until: float, owner: str) -> list[Claim]:
        due = sorted(
            (s for s in self._queue.values() if s.item.due_at <= now),
            key=lambda s: (s.item.due_at, s.item.id),
        )[:limit]
        claims = []
        for slot in due:
            slot.lease = f"{owner}:{next(self._leases)}"
            slot.item = replace(slot.item, due_at=lease_until)
            claims.append(Claim(slot.item, slot.lease, await self.run_state(slot.item.run_id)))
        return claims

    async def extend_leases(self, claims: Sequence[Claim], lease_until: float) -> None:
        for claim in claims:
            slot = self._queue.get(claim.item.id)
            if slot is not None and slot.lease == claim.lease:
                slot.item = replace(slot.item, due_at=lease_until)

    async def next_due(self) -> float | None:
        return min((s.item.due_at for s in self._queue.values()), default=None)

    async def complete(self, claim: Claim, outcome: Outcome, now: float, key_ttl: float) -> bool:
        item = claim.item
        slot = self._queue.get(item.id)
        if slot is None or slot.lease != claim.lease:
            return False
        self._history.setdefault(item.run_id, []).append(outcome.attempt)
        run = self._runs[item.run_id]
        if run.status.ended:
            del self._queue[item.id]
            return True
        memos = self._memos.setdefault(item.run_id, {})
        added = 0
        for memo in outcome.memos:
            if memo.step_id not in memos:
                memos[memo.step_id] = StoredMemo(
                    memo.step_id, memo.value, memo.name, memo.op, len(memos), now
                )
                added += 1
        run = replace(
            run,
            step_count=run.step_count + added,
            state_size=run.state_size + (outcome.state_bytes if added else 0),
        )
        if run.status is RunStatus.QUEUED:
            run = replace(run, status=RunStatus.RUNNING, started_at=outcome.attempt.started_at)
        if outcome.request_version is not None:
            run = replace(run, request_version=outcome.request_version)
        if outcome.force_plan is not None:
            run = replace(run, force_plan=outcome.force_plan)
        if outcome.retry_at is not None:
            slot.lease = None
            slot.item = replace(item, due_at=outcome.retry_at, attempt=item.attempt + 1)
        else:
            del self._queue[item.id]
        if outcome.finish is not None:
            run = replace(
                run,
                status=outcome.finish.status,
                output=outcome.finish.output,
                error=outcome.finish.error,
                ended_at=now,
            )
            for item_id in [i for i, s in self._queue.items() if s.item.run_id == run.id]:
                del self._queue[item_id]
        else:
            for new in outcome.enqueue:
                self._enqueue(run.id, new, now)
        self._runs[run.id] = run
        if outcome.events or outcome.runs:
            await self.ingest(outcome.events, outcome.runs, now, key_ttl)
        return True

    async def release_all(self) -> int:
        released = 0
        for slot in self._queue.values():
            if slot.lease is not None:
                slot.lease = None
                slot.item = replace(slot.item, due_at=0.0)
                released += 1
        return released

    def _enqueue(self, run_id: str, new: NewItem, now: float) -> None:
        pending = [s.item for s in self._queue.values() if s.item.run_id == run_id]
        if new.after_join and pending:
            return
        if any(p.kind == new.kind and p.step_id == new.step_id for p in pending):
            return
        item = QueueItem(
            id=new_ulid(now),
            run_id=run_id,
            kind=new.kind,
            step_id=new.step_id,
            due_at=new.due_at,
            join=new.join,
            name=new.name,
        )
        self._queue[item.id] = _Slot(item)
