"""The in-memory twin of the SQL stores: the engine's ``Tx`` over dicts, no persistence.
Every rule is the engine's (``inlet.store.engine``); this module only keeps rows. For unit
tests and for users' tests (see ``inlet.testing``)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace

import orjson

from inlet.expr import index_value, path_value
from inlet.metrics import Tally
from inlet.model import (
    STEP_DISCOVERY,
    App,
    Attempt,
    Cancellation,
    Event,
    Function,
    ItemKind,
    Listener,
    ListenerKind,
    NewRun,
    Outcome,
    QueueItem,
    Resume,
    Run,
    RunFlow,
    RunStatus,
    SkipRecord,
    SkipSet,
    StoredMemo,
)
from inlet.steps.checkpoint import Checkpoint, StateLimits, Verdict
from inlet.steps.endpoint import Report
from inlet.store.alerts import MemoryAlerts
from inlet.store.base import CallEnd, Claim, Completed, IngestResult, Next, Store
from inlet.store.engine import apply, queue
from inlet.store.engine import checkpoint as engine_checkpoint
from inlet.store.engine import endpoint as engine_endpoint
from inlet.store.engine.admit import queued_run
from inlet.store.engine.tx import FirstLease, GateState, Keys, Loaded, RunRow, Start, Tx
from inlet.store.memory_metadata import MemoryMetadata
from inlet.store.memory_queue import MemoryQueueTx
from inlet.store.memory_reads import MemoryReads
from inlet.store.memory_retention import MemoryRetention
from inlet.store.memory_rows import Rows, Slot
from inlet.store.memory_waiting import MemoryWaiting
from inlet.store.operations import MemoryOperations
from inlet.store.tokens import MemoryTokens
from inlet.store.users import MemoryUsers


class MemoryTx(MemoryQueueTx):
    """The ``Tx`` port over :class:`Rows` (see ``inlet.store.engine.tx`` for the contract)."""

    def __init__(self, rows: Rows) -> None:
        self.rows = rows
        self.tally = Tally()

    # Events

    def insert_events(self, events: Sequence[Event], skip_set: str | None = None) -> list[str]:
        fresh = []
        for event in events:
            if event.internal_id not in self.rows.events:
                self.rows.events[event.internal_id] = event
                fresh.append(event.internal_id)
        return fresh

    def event(self, internal_id: str) -> Event | None:
        return self.rows.events.get(internal_id)

    def events_since(self, name: str, since: float) -> Iterable[Event]:
        found = [e for e in self.rows.events.values() if e.name == name and e.received_at >= since]
        return sorted(found, key=lambda e: (e.received_at, e.internal_id))

    def insert_skip(self, event_id: str, function_slug: str, reason: str, now: float) -> None:
        per_fn = self.rows.skips.setdefault(event_id, {})
        per_fn.setdefault(function_slug, SkipRecord(event_id, function_slug, reason))
        self.rows.skip_times.setdefault((event_id, function_slug), (reason, now))

    def insert_skips(self, skips: Sequence[SkipSet], now: float, skip_set: str) -> None:
        for refused in skips:
            for event_id in refused.event_ids:
                self.insert_skip(event_id, refused.function_slug, refused.reason, now)

    # Run keys and flow-control state

    def lock_keys(self, names: Sequence[str]) -> None:
        pass  # one transaction at a time

    def function_paused(self, function_slug: str) -> bool:
        return function_slug in self.rows.paused

    def reserve_key(
        self, function_slug: str, key: str, run_id: str, now: float, until: float
    ) -> bool:
        held = self.rows.keys.get((function_slug, key))
        if held is not None and held[1] > now:
            return False
        self.rows.keys[(function_slug, key)] = (run_id, until)
        return True

    def reserve_keys(
        self, keys: Sequence[tuple[str, str, str]], now: float, until: float
    ) -> list[bool]:
        return [self.reserve_key(slug, key, run_id, now, until) for slug, key, run_id in keys]

    def key_holder(self, function_slug: str, key: str) -> str | None:
        held = self.rows.keys.get((function_slug, key))
        return None if held is None else held[0]

    def gate(self, function_slug: str, gate: str, key: str) -> GateState | None:
        return self.rows.gates.get((function_slug, gate, key))

    def set_gate(self, function_slug: str, gate: str, key: str, state: GateState) -> None:
        self.rows.gates[(function_slug, gate, key)] = state

    def clear_gate(self, function_slug: str, gate: str, key: str) -> None:
        self.rows.gates.pop((function_slug, gate, key), None)

    # Runs

    def insert_run(self, run: Run, flow: RunFlow) -> None:
        self.rows.runs[run.id] = RunRow(run, flow.priority, flow.concurrency)
        if flow.singleton is not None:
            self.rows.singletons[run.id] = flow.singleton
        for event_id in run.event_ids:
            self.rows.event_runs.setdefault(event_id, []).append(run.id)

    def insert_runs(self, runs: Sequence[tuple[Run, RunFlow]]) -> None:
        for run, flow in runs:
            self.insert_run(run, flow)

    def insert_queued_runs(self, starts: Sequence[Start], now: float) -> None:
        for new, item_id, rank in starts:
            self.insert_run(queued_run(new, now), new.flow)
            item = QueueItem(item_id, new.id, ItemKind.DISCOVERY, STEP_DISCOVERY, new.due_at)
            self.enqueue(item, rank, new.flow.concurrency)

    def run(self, run_id: str) -> RunRow | None:
        return self.rows.runs.get(run_id)

    def run_states(self, run_ids: Sequence[str]) -> Mapping[str, Loaded]:
        rows = ((run_id, self.rows.runs.get(run_id)) for run_id in run_ids)
        return {run_id: (row, self.memos(run_id)) for run_id, row in rows if row is not None}

    def start_runs(self, run_ids: Sequence[str], at: float) -> None:
        for run_id in run_ids:
            row = self.rows.runs[run_id]
            if row.run.status is RunStatus.QUEUED:
                started = replace(row.run, status=RunStatus.RUNNING, started_at=at)
                self.rows.runs[run_id] = replace(row, run=started)

    def update_run(self, run: Run, then: Sequence[tuple[QueueItem, float, Keys]] = ()) -> None:
        row = self.rows.runs[run.id]
        self.rows.runs[run.id] = replace(row, run=replace(run, event_ids=row.run.event_ids))
        self.enqueue_many(then)

    def update_run_leasing(
        self, run: Run, then: Sequence[tuple[QueueItem, float, Keys]], first: FirstLease
    ) -> Callable[[], bool]:
        self.update_run(run, then)
        return self.lease_if_first(first.item_id, first.lease, first.until, first.now)

    def set_run_events(self, run_id: str, event_ids: Sequence[str], dropped: Sequence[str]) -> None:
        row = self.rows.runs[run_id]
        self.rows.runs[run_id] = replace(row, run=replace(row.run, event_ids=tuple(event_ids)))
        for event_id in dropped:
            linked = self.rows.event_runs.get(event_id, [])
            self.rows.event_runs[event_id] = [r for r in linked if r != run_id]
        for event_id in event_ids:
            linked = self.rows.event_runs.setdefault(event_id, [])
            if run_id not in linked:
                linked.append(run_id)

    def active_singleton(self, function_slug: str, key: str) -> str | None:
        for run_id, held in self.rows.singletons.items():
            run = self.rows.runs[run_id].run
            if held == key and run.function_slug == function_slug and not run.status.ended:
                return run_id
        return None

    def memos(self, run_id: str) -> tuple[StoredMemo, ...]:
        return tuple(sorted(self.rows.memos.get(run_id, {}).values(), key=lambda m: m.seq))

    def insert_memo(self, run_id: str, memo: StoredMemo) -> bool:
        memos = self.rows.memos.setdefault(run_id, {})
        if memo.step_id in memos:
            return False
        memos[memo.step_id] = memo
        return True

    def record_attempt(self, attempt: Attempt) -> None:
        self.rows.attempts.setdefault(attempt.run_id, []).append(attempt)

    # Listeners

    def insert_listener(self, listener: Listener) -> None:
        self.rows.listeners.setdefault(listener.id, listener)

    def take_listener(self, listener_id: str) -> bool:
        return self.rows.listeners.pop(listener_id, None) is not None

    def drop_step_waits(self, run_id: str, step_id: str) -> None:
        listeners = self.rows.listeners
        for lid in [i for i, x in listeners.items() if x.run_id == run_id and x.step_id == step_id]:
            del listeners[lid]
        item_id = self.rows.run_items.get(run_id, {}).get((ItemKind.TIMER, step_id))
        if item_id is not None:
            self.delete_item(item_id)

    def has_branch(self, run_id: str) -> bool:
        for kind, step_id in self.rows.run_items.get(run_id, {}):
            if kind is not ItemKind.TIMER or not step_id.startswith("timeout:"):
                return True
        return any(
            x.run_id == run_id and x.kind is not ListenerKind.CANCEL
            for x in self.rows.listeners.values()
        )

    # The queue

    def enqueue(self, item: QueueItem, rank: float, keys: Keys) -> None:
        per_run = self.rows.run_items.setdefault(item.run_id, {})
        if (item.kind, item.step_id) not in per_run:
            per_run[(item.kind, item.step_id)] = item.id
            self.rows.queue[item.id] = Slot(item, rank, rank, keys)

    def enqueue_many(self, items: Sequence[tuple[QueueItem, float, Keys]]) -> None:
        for item, rank, keys in items:
            self.enqueue(item, rank, keys)

    def _unparked_discoveries(self, run_id: str) -> Iterable[Slot]:
        for (kind, _), item_id in self.rows.run_items.get(run_id, {}).items():
            slot = self.rows.queue[item_id]
            if kind is ItemKind.DISCOVERY and slot.lease is None and slot.parked is None:
                yield slot

    def reschedule_start(self, run_id: str, due: float, rank: float) -> None:
        for slot in self._unparked_discoveries(run_id):
            slot.item = replace(slot.item, due_at=due)
            slot.rank = slot.orank = rank

    def retry_item(
        self, item_id: str, lease: str, due: float, rank: float, attempt: Attempt
    ) -> bool:
        slot = self.rows.queue.get(item_id)
        if slot is None or slot.lease != lease:
            return False
        self.record_attempt(attempt)
        slot.lease = None
        slot.item = replace(slot.item, due_at=due, attempt=slot.item.attempt + 1)
        slot.rank = slot.orank = rank
        return True

    def reset_attempt(self, item_id: str, lease: str, run_id: str) -> bool:
        slot = self.rows.queue.get(item_id)
        if slot is None or slot.lease != lease or slot.item.run_id != run_id:
            return False
        slot.item = replace(slot.item, attempt=0)
        return True

    def consume_item(
        self,
        item_id: str,
        lease: str,
        attempt: Attempt,
        run_id: str = "",
        memos: Sequence[StoredMemo] = (),
    ) -> int | None:
        slot = self.rows.queue.get(item_id)
        if slot is None or slot.lease != lease:
            return None
        self.record_attempt(attempt)
        self.delete_item(item_id)
        stored = 0
        for memo in memos:
            if self.insert_memo(run_id, replace(memo, seq=memos[0].seq + stored)):
                stored += 1
        return stored

    def consume_ahead(
        self, item_id: str, lease: str, attempt: Attempt, run_id: str, memos: Sequence[StoredMemo]
    ) -> None:
        return None  # no round trips to save

    def delete_item(self, item_id: str) -> None:
        slot = self.rows.queue.pop(item_id, None)
        if slot is not None:
            item = slot.item
            self.rows.run_items.get(item.run_id, {}).pop((item.kind, item.step_id), None)

    def drop_run_items(self, run_id: str) -> list[str]:
        owned = list(self.rows.run_items.pop(run_id, {}).values())
        leased = [i for i in owned if self.rows.queue[i].lease is not None]
        for item_id in owned:
            del self.rows.queue[item_id]
        listeners = self.rows.listeners
        for lid in [i for i, x in listeners.items() if x.run_id == run_id]:
            del listeners[lid]
        return leased

    def release_slots(self, item_id: str) -> list[str]:
        return [key for key, _ in self.rows.inflight.pop(item_id, ())]

    def unpark_oldest(self, key: str, now: float) -> None:
        parked = [s for s in self.rows.queue.values() if s.parked == key]
        if parked:
            slot = min(parked, key=lambda s: (s.orank, s.item.id))
            slot.parked = None
            slot.rank = slot.orank
            slot.item = replace(slot.item, due_at=now)


class MemoryStore(
    MemoryAlerts,
    MemoryMetadata,
    MemoryRetention,
    MemoryTokens,
    MemoryUsers,
    MemoryOperations,
    MemoryWaiting,
    MemoryReads,
    Store,
):
    def __init__(self) -> None:
        MemoryAlerts.__init__(self)
        MemoryTokens.__init__(self)
        MemoryUsers.__init__(self)
        MemoryOperations.__init__(self)
        self._rows = Rows()
        self._paused, self._skip_times = self._rows.paused, self._rows.skip_times
        self._tx = MemoryTx(self._rows)
        self._apps: dict[str, App] = {}
        self._error_since: dict[str, float] = {}
        self._functions: dict[str, Function] = {}
        self._cron: dict[tuple[str, str], float] = {}
        self._leases = itertools.count(1)

    async def revoke_token(self, token_id: str, now: float) -> bool:
        revoked = await MemoryTokens.revoke_token(self, token_id, now)
        if revoked:  # the dashboard sessions it opened end with it
            self._end_sessions_of(f"token:{token_id}")
        return revoked

    # Apps and functions

    async def save_app(self, app: App, functions: Sequence[Function]) -> bool:
        old = self._apps.get(app.url)
        self._apps[app.url] = app
        self._note_app_error(app.url, app.error, app.synced_at)
        for slug in [s for s, f in self._functions.items() if f.app_url == app.url]:
            del self._functions[slug]
        for fn in functions:
            self._functions[fn.slug] = fn
        return old is None or old.checksum != app.checksum

    async def set_app_error(self, url: str, error: str | None, now: float) -> None:
        app = self._apps.get(url)
        self._note_app_error(url, error, now)
        self._apps[url] = (
            App(url=url, app_id="", error=error) if app is None else replace(app, error=error)
        )

    async def list_apps(self) -> list[App]:
        return sorted(self._apps.values(), key=lambda a: a.url)

    async def list_functions(self) -> list[Function]:
        return sorted(self._functions.values(), key=lambda f: f.slug)

    # Writes: the engine over dicts

    async def ingest(
        self,
        events: Sequence[Event],
        runs: Sequence[NewRun],
        now: float,
        key_ttl: float,
        resumes: Sequence[Resume] = (),
        cancels: Sequence[Cancellation] = (),
        skips: Sequence[SkipSet] = (),
        then: Next | None = None,
    ) -> IngestResult:
        tx, batch = self._write_tx(), apply.Batch(events, runs, resumes, cancels, skips)
        result = apply.ingest(tx, batch, now, key_ttl, then, self._leases)
        self._counted(tx.tally)
        return result

    def _write_tx(self) -> Tx:
        """The engine's port with a tally of its own for this write."""
        self._tx.tally = Tally()
        return self._tx

    async def revive(self, run_id: str, now: float) -> bool:
        return apply.revive(self._tx, run_id, now)

    async def claim(
        self,
        now: float,
        limit: int,
        lease_until: float,
        owner: str,
        *,
        timers: int = 0,
        timers_ahead: float = 0.0,
    ) -> list[Claim]:
        def lease() -> str:
            return f"{owner}:{next(self._leases)}"

        tx = self._write_tx()
        claims = queue.claim(tx, now, limit, lease_until, lease, timers, timers_ahead)
        self._counted(tx.tally)
        return claims

    async def complete_call(
        self, claim: Claim, outcome: Outcome, now: float, key_ttl: float, end: CallEnd
    ) -> Completed:
        tx = self._write_tx()
        done = apply.complete_call(tx, claim, outcome, now, key_ttl, end, self._leases)
        self._counted(tx.tally)
        return done.settled()

    async def checkpoint(self, cp: Checkpoint, limits: StateLimits, now: float) -> Verdict:
        return engine_checkpoint.checkpoint(self._write_tx(), cp, limits, now)

    async def record_endpoint(
        self, run_id: str, report: Report, limits: StateLimits, now: float
    ) -> Verdict:
        tx = self._write_tx()
        verdict = engine_endpoint.record(tx, run_id, report, limits, now)
        self._counted(tx.tally)
        return verdict

    async def extend_leases(self, claims: Sequence[Claim], lease_until: float) -> None:
        for claim in claims:
            slot = self._rows.queue.get(claim.item.id)
            if slot is not None and slot.lease == claim.lease:
                slot.item = replace(slot.item, due_at=lease_until)

    async def release_all(self) -> int:
        released = 0
        self._rows.inflight.clear()
        for slot in self._rows.queue.values():
            if slot.lease is not None or slot.parked is not None:
                slot.lease = slot.parked = None
                slot.item = replace(slot.item, due_at=0.0)
                slot.rank = slot.orank
                released += 1
        return released

    async def set_cron_cursor(self, function_slug: str, expression: str, last_fire: float) -> None:
        key = (function_slug, expression)
        self._cron[key] = max(last_fire, self._cron.get(key, last_fire))

    # Reads

    async def next_due(self) -> float | None:
        return min((s.item.due_at for s in self._rows.queue.values()), default=None)

    async def find_listeners(self, events: Sequence[Event]) -> dict[str, list[Listener]]:
        found: dict[str, list[Listener]] = {}
        for event in events:
            wire = event.to_wire()
            hits = []
            for listener in self._rows.listeners.values():
                if listener.event != event.name:
                    continue
                if listener.index:
                    # The SQL stores' key: the JSON text of the normalised value, so 7 and
                    # 7.0 meet and true and 1 do not.
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
