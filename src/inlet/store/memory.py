"""The in-memory twin of the SQLite store: the same contract, no persistence.

For unit tests and for users' tests (see ``inlet.testing``)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, replace

import orjson

from inlet.expr import compile_expression, index_value, path_value
from inlet.ids import new_ulid
from inlet.model import (
    App,
    Attempt,
    Cancellation,
    Event,
    Function,
    ItemKind,
    Listener,
    ListenerKind,
    NewItem,
    NewRun,
    Outcome,
    QueueItem,
    Resume,
    Run,
    RunState,
    RunStatus,
    StoredMemo,
)
from inlet.store.base import Claim, IngestResult, Store

_STEP_OPS = ("StepRun", "Step", "StepFailed")


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
        self._event_runs: dict[str, list[str]] = {}
        self._keys: dict[tuple[str, str], float] = {}
        self._memos: dict[str, dict[str, StoredMemo]] = {}
        self._queue: dict[str, _Slot] = {}
        self._listeners: dict[str, Listener] = {}
        self._history: dict[str, list[Attempt]] = {}
        self._leases = itertools.count(1)
        self._cron: dict[tuple[str, str], float] = {}

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
        self._apps[url] = (
            App(url=url, app_id="", error=error) if app is None else replace(app, error=error)
        )

    async def list_apps(self) -> list[App]:
        return sorted(self._apps.values(), key=lambda a: a.url)

    async def list_functions(self) -> list[Function]:
        return sorted(self._functions.values(), key=lambda f: f.slug)

    # Events and runs

    async def ingest(
        self,
        events: Sequence[Event],
        runs: Sequence[NewRun],
        now: float,
        key_ttl: float,
        resumes: Sequence[Resume] = (),
        cancels: Sequence[Cancellation] = (),
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
            for timer in new.timers:
                self._enqueue(new.id, timer, now)
            for listener in new.listeners:
                self._listeners.setdefault(listener.id, listener)
            created.append(new.id)
        resumed = [r.listener_id for r in resumes if self._resume(r, now)]
        cancelled = [c.run_id for c in cancels if await self._cancel(c, now, key_ttl)]
        return IngestResult(tuple(new_events), tuple(created), tuple(resumed), tuple(cancelled))

    def _resolve_step(self, run_id: str, step_id: str) -> None:
        for lid in [
            i
            for i, lst in self._listeners.items()
            if lst.run_id == run_id and lst.step_id == step_id
        ]:
            del self._listeners[lid]
        for iid in [
            i
            for i, s in self._queue.items()
            if s.item.run_id == run_id
            and s.item.kind is ItemKind.TIMER
            and s.item.step_id == step_id
        ]:
            del self._queue[iid]

    def _resume(self, resume: Resume, now: float) -> bool:
        if self._listeners.pop(resume.listener_id, None) is None:
            return False
        run = self._runs.get(resume.run_id)
        if run is None or run.status.ended:
            return False
        memos = self._memos.setdefault(run.id, {})
        if resume.step_id in memos:
            return False
        memos[resume.step_id] = StoredMemo(
            resume.step_id, resume.memo, "", "Resume", run.step_count, now
        )
        self._runs[run.id] = replace(run, step_count=run.step_count + 1)
        self._resolve_step(run.id, resume.step_id)
        self._enqueue(run.id, NewItem(ItemKind.DISCOVERY, "step", now), now)
        self._history.setdefault(run.id, []).append(
            Attempt(
                run_id=run.id,
                item_id="",
                step_id=resume.step_id,
                attempt=0,
                started_at=now,
                ended_at=now,
                outcome="resumed",
                output=resume.memo,
                op_step=resume.step_id,
            )
        )
        return True

    async def _cancel(self, cancel: Cancellation, now: float, key_ttl: float) -> bool:
        run = self._runs.get(cancel.run_id)
        if run is None or run.status.ended:
            return False
        self._runs[run.id] = replace(
            run, status=RunStatus.CANCELLED, ended_at=now, output=cancel.error, error=cancel.error
        )
        self._drop_run_work(run.id)
        self._history.setdefault(run.id, []).append(
            Attempt(
                run_id=run.id,
                item_id="",
                step_id="",
                attempt=0,
                started_at=now,
                ended_at=now,
                outcome="cancelled",
                name="cancel",
                error=str(cancel.error.get("message") or cancel.error),
            )
        )
        await self.ingest(cancel.events, cancel.runs, now, key_ttl, cancel.resumes)
        return True

    def _early_event(self, listener: Listener, since: float) -> Event | None:
        """See the SQLite backend: an event that arrived while the wait was being made."""
        condition = compile_expression(listener.expression) if listener.expression else None
        for event in sorted(self._events.values(), key=lambda e: e.internal_id):
            if event.name != listener.event or event.received_at < since:
                continue
            if condition is None or condition.matches({"async": event.to_wire()}):
                return event
        return None

    def _drop_run_work(self, run_id: str) -> None:
        for iid in [i for i, s in self._queue.items() if s.item.run_id == run_id]:
            del self._queue[iid]
        for lid in [i for i, lst in self._listeners.items() if lst.run_id == run_id]:
            del self._listeners[lid]

    async def find_listeners(self, events: Sequence[Event]) -> dict[str, list[Listener]]:
        found: dict[str, list[Listener]] = {}
        for event in events:
            wire = event.to_wire()
            hits = []
            for listener in self._listeners.values():
                if listener.event != event.name:
                    continue
                if listener.index:
                    # The same key as the SQLite backend: the JSON text of the normalised
                    # value, so 7 and 7.0 meet and true and 1 do not.
                    path, literal = listener.index[0]
                    value = index_value(path_value(wire, path))
                    if value is None or orjson.dumps(value) != orjson.dumps(index_value(literal)):
                        continue
                hits.append(listener)
            if hits:
                found[event.internal_id] = hits
        return found

    async def cron_cursors(self) -> dict[tuple[str, str], float]:
        return dict(self._cron)

    async def set_cron_cursor(self, function_slug: str, expression: str, last_fire: float) -> None:
        key = (function_slug, expression)
        self._cron[key] = max(last_fire, self._cron.get(key, last_fire))

    async def get_event(self, internal_id: str) -> Event | None:
        return self._events.get(internal_id)

    async def list_events(self, name: str | None, limit: int) -> list[Event]:
        found = [e for e in self._events.values() if name is None or e.name == name]
        found.sort(key=lambda e: e.internal_id, reverse=True)
        return found[:limit]

    async def get_run(self, run_id: str) -> Run | None:
        return self._runs.get(run_id)

    async def runs_for_event(self, event_id: str) -> list[Run]:
        return sorted(
            (self._runs[r] for r in self._event_runs.get(event_id, [])), key=lambda r: r.id
        )

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
            r
            for r in self._runs.values()
            if (function_slug is None or r.function_slug == function_slug)
            and (not active or not r.status.ended)
            and (created_after is None or r.created_at >= created_after)
            and (created_before is None or r.created_at <= created_before)
        ]
        return sorted(runs, key=lambda r: r.id, reverse=True)[:limit]

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
            item = slot.item
            slot.item = replace(item, due_at=lease_until)
            run = self._runs.get(item.run_id)
            if (
                run is not None
                and run.status is RunStatus.QUEUED
                and (item.kind is not ItemKind.TIMER)
            ):
                self._runs[run.id] = replace(run, status=RunStatus.RUNNING, started_at=now)
            claims.append(Claim(slot.item, slot.lease, await self.run_state(item.run_id)))
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
        if outcome.retry_at is not None:
            slot.lease = None
            slot.item = replace(item, due_at=outcome.retry_at, attempt=item.attempt + 1)
        else:
            del self._queue[item.id]
        memos = self._memos.setdefault(item.run_id, {})
        added = 0
        for memo in outcome.memos:
            if memo.step_id not in memos:
                memos[memo.step_id] = StoredMemo(
                    memo.step_id, memo.value, memo.name, memo.op, run.step_count + added, now
                )
                added += 1
            if memo.op not in _STEP_OPS:
                self._resolve_step(run.id, memo.step_id)
        run = replace(
            run,
            step_count=run.step_count + added,
            state_size=run.state_size + (outcome.state_bytes if added else 0),
        )
        if run.status is RunStatus.QUEUED and item.kind is not ItemKind.TIMER:
            run = replace(run, status=RunStatus.RUNNING, started_at=outcome.attempt.started_at)
        if outcome.request_version is not None:
            run = replace(run, request_version=outcome.request_version)
        if outcome.force_plan is not None:
            run = replace(run, force_plan=outcome.force_plan)
        if outcome.finish is not None:
            run = replace(
                run,
                status=outcome.finish.status,
                output=outcome.finish.output,
                error=outcome.finish.error,
                ended_at=now,
            )
            self._drop_run_work(run.id)
        else:
            for new in outcome.enqueue:
                self._enqueue(run.id, new, now)
            for listener in outcome.listeners:
                self._listeners.setdefault(listener.id, listener)
                if listener.kind is ListenerKind.WAIT:
                    early = self._early_event(listener, outcome.attempt.started_at)
                    if early is not None:
                        self._runs[run.id] = run
                        self._resume(
                            Resume(listener.id, run.id, listener.step_id, early.to_wire()), now
                        )
                        run = self._runs[run.id]
        self._runs[run.id] = run
        if outcome.events or outcome.runs or outcome.resumes or outcome.cancels:
            await self.ingest(
                outcome.events, outcome.runs, now, key_ttl, outcome.resumes, outcome.cancels
            )
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
        if new.after_join and any(p.kind is not ItemKind.TIMER for p in pending):
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
            payload=new.payload,
        )
        self._queue[item.id] = _Slot(item)
