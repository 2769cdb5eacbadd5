"""The in-memory twin of the SQLite store: the same contract, no persistence.

For unit tests and for users' tests (see ``inlet.testing``)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, replace

import orjson

from inlet.expr import compile_expression, index_value, path_value
from inlet.flow.concurrency import Candidate
from inlet.ids import new_ulid
from inlet.model import (
    App,
    Attempt,
    Buffer,
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
    RunFlow,
    RunState,
    RunStatus,
    Skip,
    StoredMemo,
)
from inlet.steps.waits import invoke_refused
from inlet.store import gating as gates
from inlet.store.base import Claim, IngestResult, Store

_STEP_OPS = ("StepRun", "Step", "StepFailed")


@dataclass(slots=True)
class _Slot:
    item: QueueItem
    lease: str | None = None
    rank: float = 0.0
    orank: float = 0.0
    keys: tuple[tuple[str, int], ...] = ()
    parked: str | None = None


PARKED = 1e15
IDEMPOTENCY_TTL = 24 * 60 * 60.0


@dataclass(slots=True)
class _Gate:
    tat: float | None = None
    run_id: str | None = None
    first_at: float = 0.0
    size: int = 0


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
        self._flows: dict[str, RunFlow] = {}
        self._inflight: dict[str, tuple[str, ...]] = {}
        self._gates: dict[tuple[str, str, str], _Gate] = {}
        self._skips: dict[str, dict[str, Skip]] = {}
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
        fresh = set(new_events)
        for new in runs:
            if await self._create_run(new, now, key_ttl, fresh):
                created.append(new.id)
        resumed = [r.listener_id for r in resumes if self._resume(r, now)]
        cancelled = [c.run_id for c in cancels if await self._cancel(c, now, key_ttl)]
        return IngestResult(tuple(new_events), tuple(created), tuple(resumed), tuple(cancelled))

    def _reserve(self, slug: str, key: str, now: float, ttl: float) -> bool:
        expires = self._keys.get((slug, key))
        if expires is not None and expires > now:
            return False
        self._keys[(slug, key)] = now + ttl
        return True

    def _skip(self, new: NewRun, reason: str, fresh: set[str], now: float) -> bool:
        for event_id in new.event_ids:
            if event_id in fresh:
                self._skips.setdefault(event_id, {}).setdefault(
                    new.function_slug, Skip(event_id, new.function_slug, reason)
                )
            event = self._events.get(event_id)
            resume = invoke_refused(event, reason) if event is not None else None
            if resume is not None:
                self._resume(resume, now)
        return False

    def _pending(self, slug: str, gate: str, key: str) -> _Gate | None:
        state = self._gates.get((slug, gate, key))
        if state is None or state.run_id is None:
            return None
        run = self._runs.get(state.run_id)
        return state if run is not None and run.status is RunStatus.QUEUED else None

    async def _create_run(self, new: NewRun, now: float, key_ttl: float, fresh: set[str]) -> bool:
        """See the SQLite backend's ``_create_run``: the same gates, in the same order."""
        slug, flow = new.function_slug, new.flow
        if not self._reserve(slug, new.key, now, key_ttl):
            return self._skip(new, "an event with the same id started a run within 24h", fresh, now)
        if not flow.gated:
            self._insert_run(new, new.due_at, now)
            return True
        if flow.idempotency is not None and not self._reserve(
            slug, f"idempotency:{flow.idempotency}", now, IDEMPOTENCY_TTL
        ):
            return self._skip(
                new, "idempotency key already used by another run within 24h", fresh, now
            )
        if flow.rate_limit is not None:
            gate = self._gates.setdefault((slug, "rate_limit", flow.rate_limit.key), _Gate())
            decision, tat = gates.rate_limit(gate.tat, now, flow.rate_limit)
            if isinstance(decision, gates.Skip):
                return self._skip(new, decision.reason, fresh, now)
            gate.tat = tat
        if flow.batch is not None:
            return self._batch(new, flow.batch, now)
        if flow.debounce is not None:
            return self._debounce(new, flow.debounce, now)
        if flow.singleton is not None:
            active = next(
                (
                    r
                    for r in self._runs.values()
                    if r.function_slug == slug
                    and not r.status.ended
                    and self._flows.get(r.id, RunFlow()).singleton == flow.singleton
                ),
                None,
            )
            if active is not None:
                if flow.singleton_mode != "cancel":
                    return self._skip(
                        new,
                        f"singleton: run {active.id} of the same key is still active",
                        fresh,
                        now,
                    )
                await self._cancel_for_singleton(active.id, new.id, now, key_ttl)
        due = new.due_at
        if flow.throttle is not None:
            gate = self._gates.setdefault((slug, "throttle", flow.throttle.key), _Gate())
            decision, gate.tat = gates.throttle(gate.tat, now, flow.throttle)
            if isinstance(decision, gates.Delay):
                due = max(due, decision.until)
        self._insert_run(new, due, now)
        return True

    def _batch(self, new: NewRun, batch: Buffer, now: float) -> bool:
        key = (new.function_slug, "batch", batch.key)
        pending = self._pending(*key)
        if pending is not None and pending.run_id is not None and pending.size < batch.max_size:
            run = self._runs[pending.run_id]
            self._runs[run.id] = replace(run, event_ids=(*run.event_ids, *new.event_ids))
            for event_id in new.event_ids:
                self._event_runs.setdefault(event_id, []).append(run.id)
            pending.size += len(new.event_ids)
            if pending.size >= batch.max_size:
                self._reschedule_start(run.id, now)
                del self._gates[key]
            return False
        full = batch.max_size <= len(new.event_ids)
        self._insert_run(new, now if full else now + (batch.timeout or 0.0), now)
        if not full:
            self._gates[key] = _Gate(run_id=new.id, first_at=now, size=len(new.event_ids))
        return True

    def _debounce(self, new: NewRun, debounce: Buffer, now: float) -> bool:
        key = (new.function_slug, "debounce", debounce.key)
        due = now + debounce.period
        pending = self._pending(*key)
        if pending is not None and pending.run_id is not None:
            if debounce.timeout is not None:
                due = min(due, pending.first_at + debounce.timeout)
            run = self._runs[pending.run_id]
            for event_id in run.event_ids:
                self._event_runs[event_id] = [
                    r for r in self._event_runs.get(event_id, []) if r != run.id
                ]
                self._skips.setdefault(event_id, {}).setdefault(
                    new.function_slug,
                    Skip(
                        event_id,
                        new.function_slug,
                        f"debounced: run {run.id} will receive a later event instead",
                    ),
                )
            self._runs[run.id] = replace(run, event_ids=new.event_ids)
            for event_id in new.event_ids:
                self._event_runs.setdefault(event_id, []).append(run.id)
            self._reschedule_start(run.id, due)
            return False
        self._insert_run(new, due, now)
        self._gates[key] = _Gate(run_id=new.id, first_at=now)
        return True

    def _reschedule_start(self, run_id: str, due: float) -> None:
        priority = self._flows.get(run_id, RunFlow()).priority
        for slot in self._queue.values():
            if (
                slot.item.run_id == run_id
                and slot.item.kind is ItemKind.DISCOVERY
                and slot.lease is None
                and slot.parked is None
            ):
                slot.item = replace(slot.item, due_at=due)
                slot.rank = slot.orank = due - priority

    async def _cancel_for_singleton(self, run_id: str, by: str, now: float, key_ttl: float) -> None:
        state = await self.run_state(run_id)
        if state is not None:
            await self._cancel(gates.replaced_singleton(state, by, now), now, key_ttl)

    def _insert_run(self, new: NewRun, due: float, now: float) -> None:
        self._runs[new.id] = Run(
            id=new.id,
            function_slug=new.function_slug,
            event_ids=new.event_ids,
            status=RunStatus.QUEUED,
            created_at=now,
        )
        self._flows[new.id] = new.flow
        for event_id in new.event_ids:
            self._event_runs.setdefault(event_id, []).append(new.id)
        self._enqueue(new.id, NewItem(ItemKind.DISCOVERY, "step", due), now)
        for timer in new.timers:
            self._enqueue(new.id, timer, now)
        for listener in new.listeners:
            self._listeners.setdefault(listener.id, listener)

    async def skips(self, event_id: str) -> list[Skip]:
        return sorted(self._skips.get(event_id, {}).values(), key=lambda s: s.function_slug)

    def _release_inflight(self, item_ids: Sequence[str], now: float) -> None:
        for item_id in item_ids:
            for key in self._inflight.pop(item_id, ()):
                parked = [s for s in self._queue.values() if s.parked == key]
                if parked:
                    slot = min(parked, key=lambda s: (s.orank, s.item.id))
                    slot.parked = None
                    slot.rank = slot.orank
                    slot.item = replace(slot.item, due_at=now)

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
        # Joins like a parallel branch: no discovery while another call of the run is due.
        self._enqueue(run.id, NewItem(ItemKind.DISCOVERY, "step", now, after_join=True), now)
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
        self._drop_run_work(run.id, now)
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

    def _drop_run_work(self, run_id: str, now: float = 0.0) -> None:
        items = [i for i, s in self._queue.items() if s.item.run_id == run_id]
        self._release_inflight([i for i in items if self._queue[i].lease is not None], now)
        for iid in items:
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

    async def claim(
        self, now: float, limit: int, lease_until: float, owner: str, *, timers: int = 0
    ) -> list[Claim]:
        timer_slots = sorted(
            (
                s
                for s in self._queue.values()
                if s.item.due_at <= now and s.item.kind is ItemKind.TIMER
            ),
            key=lambda s: (s.item.due_at, s.item.id),
        )[:timers]
        taken = {s.item.id for s in timer_slots}
        due = sorted(
            (s for s in self._queue.values() if s.item.due_at <= now and s.item.id not in taken),
            key=lambda s: (s.rank, s.item.id),
        )[: limit * 2]
        in_flight: dict[str, int] = {}
        for item_id, keys in self._inflight.items():
            held = self._queue.get(item_id)
            if held is None or held.lease is None or held.item.due_at <= now:
                continue  # an expired lease holds no slot: its item is due again
            for key in keys:
                in_flight[key] = in_flight.get(key, 0) + 1
        chosen, parked = gates.admit([Candidate(s.item.id, s.keys) for s in due], in_flight, limit)
        for slot in due:
            full = parked.get(slot.item.id)
            if full is not None:
                slot.parked = full
                slot.rank = PARKED
                slot.item = replace(slot.item, due_at=PARKED)
        chosen |= taken
        due = timer_slots + due
        claims = []
        for slot in (s for s in due if s.item.id in chosen):
            slot.lease = f"{owner}:{next(self._leases)}"
            item = slot.item
            slot.item = replace(item, due_at=lease_until)
            slot.rank = lease_until
            if slot.keys:
                self._inflight[item.id] = tuple(k for k, _ in slot.keys)
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
        self._release_inflight([item.id], now)
        if outcome.retry_at is not None:
            slot.lease = None
            slot.item = replace(item, due_at=outcome.retry_at, attempt=item.attempt + 1)
            shift = (
                0.0
                if item.kind is ItemKind.TIMER
                else self._flows.get(item.run_id, RunFlow()).priority
            )
            slot.rank = slot.orank = outcome.retry_at - shift
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
            self._drop_run_work(run.id, now)
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
        self._inflight.clear()
        for slot in self._queue.values():
            if slot.lease is not None or slot.parked is not None:
                slot.lease = slot.parked = None
                slot.item = replace(slot.item, due_at=0.0)
                slot.rank = slot.orank
                released += 1
        return released

    def _group_pending(self, run_id: str, pending: list[QueueItem]) -> bool:
        """See the SQLite backend: a branch of the run's group is still out."""
        if any(
            p.kind is not ItemKind.TIMER or not p.step_id.startswith("timeout:") for p in pending
        ):
            return True
        return any(
            lst.run_id == run_id and lst.kind is not ListenerKind.CANCEL
            for lst in self._listeners.values()
        )

    def _enqueue(self, run_id: str, new: NewItem, now: float) -> None:
        pending = [s.item for s in self._queue.values() if s.item.run_id == run_id]
        if new.after_join and self._group_pending(run_id, pending):
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
        flow = RunFlow() if new.kind is ItemKind.TIMER else self._flows.get(run_id, RunFlow())
        rank = new.due_at - flow.priority
        self._queue[item.id] = _Slot(item, rank=rank, orank=rank, keys=flow.concurrency)
