"""The queue's rules: ranks, the parallel join, concurrency slots and parking, claims."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from inlet.flow.concurrency import Candidate
from inlet.flow.gates import concurrency_gate
from inlet.ids import new_ulid
from inlet.metrics import CONCURRENCY
from inlet.model import Event, ItemKind, NewItem, QueueItem, Run, RunState, RunStatus, StoredMemo
from inlet.store.base import Claim
from inlet.store.engine.tx import Due, Keys, Loaded, RunRow, Tx

PARKED = 1e15
"""due_at and rank of an item parked behind a full concurrency key: never due by time."""
UNDER_WAY_AHEAD = 0.001
"""How far before the runs created with it a run under way ranks its calls (seconds)."""


def enqueue(tx: Tx, row: RunRow | None, run_id: str, new: NewItem, now: float) -> None:
    """Queue ``new`` for the run. Calls rank ``priority`` seconds sooner than they are due
    and count against the run's concurrency keys; timers do neither. An item that only
    joins a parallel group (``after_join``) is made once no branch of the group is out."""
    if new.after_join and tx.has_branch(run_id):
        return
    tx.enqueue(*queued(tx, row, run_id, new, now))


def plan(
    tx: Tx, row: RunRow, run_id: str, news: Sequence[NewItem], now: float
) -> list[tuple[QueueItem, float, Keys]]:
    """The items of ``news`` as :func:`enqueue` would queue them one after the other (an
    ``after_join`` item only while no other branch is out, counting the earlier ones)."""
    items: list[tuple[QueueItem, float, Keys]] = []
    for new in news:
        if new.after_join and (any(_branch(item) for item, _, _ in items) or tx.has_branch(run_id)):
            continue
        items.append(queued(tx, row, run_id, new, now))
    return items


def _branch(item: QueueItem) -> bool:
    """What ``Tx.has_branch`` counts: any item but a run-timeout timer."""
    return item.kind is not ItemKind.TIMER or not item.step_id.startswith("timeout:")


def queued(
    tx: Tx, row: RunRow | None, run_id: str, new: NewItem, now: float
) -> tuple[QueueItem, float, Keys]:
    """The item ``new`` becomes, with its rank and the keys its call will hold."""
    priority, keys = (row.priority, row.keys) if row is not None else (0.0, ())
    if new.kind is ItemKind.TIMER:
        priority, keys = 0.0, ()
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
    tx.note_due(new.due_at, now)
    return item, rank_of(row, new, now) - priority, keys


def first_rank(due_at: float, priority: float) -> float:
    """The rank :func:`queued` gives the first call, due at ``due_at``, of a run created
    just now: by :func:`rank_of`, a call due by now ranks at the earlier of its due time
    and its run's creation (now), and one due later at its due time, so either way at
    ``due_at``; less the run's priority."""
    return due_at - priority


def rank_of(row: RunRow | None, new: NewItem, now: float) -> float:
    """Where ``new`` queues before its run's priority: a call due now ranks at its run's
    creation, so that under a backlog the runs already under way finish before newer ones
    start (Inngest scores a run's immediate steps by its start time too), and a run under
    way goes :data:`UNDER_WAY_AHEAD` before the runs created with it that have not
    started (a batch's runs share their creation time). Anything due later ranks at its
    due time, and a timer always does."""
    if new.kind is ItemKind.TIMER or row is None or new.due_at > now:
        return new.due_at
    rank = min(new.due_at, row.run.created_at)
    return rank - UNDER_WAY_AHEAD if row.run.status is RunStatus.RUNNING else rank


def slot_lock(key: str) -> str:
    """The lock name of a concurrency key's slots: held by a claim counting them and by a
    release unparking the next item, so that no item stays parked behind a freed slot."""
    return f"concurrency:{key}"


def release(tx: Tx, item_ids: Sequence[str], now: float) -> None:
    """The calls ``item_ids`` are over: free their keys' slots and let the item parked
    longest on each key come due."""
    for item_id in item_ids:
        keys = tx.release_slots(item_id)
        if keys:
            tx.lock_keys([slot_lock(key) for key in keys])
        for key in keys:
            tx.note_due(now, now)
            tx.unpark_oldest(key, now)


def drop_run_work(tx: Tx, run_id: str, now: float) -> None:
    """A run that ended holds no items, listeners or concurrency slots."""
    release(tx, tx.drop_run_items(run_id), now)


def run_state(tx: Tx, run_id: str) -> RunState | None:
    """The run with its events in order and its memos, as a call request needs them."""
    row = tx.run(run_id)
    if row is None:
        return None
    events = tuple(e for e in (tx.event(i) for i in row.run.event_ids) if e is not None)
    return RunState(run=row.run, events=events, memos=tx.memos(run_id))


def claim(
    tx: Tx,
    now: float,
    limit: int,
    lease_until: float,
    leases: Callable[[], str],
    timers: int = 0,
    ahead: float = 0.0,
) -> list[Claim]:
    """Lease due timers (up to ``timers``, beyond ``limit``: a timer makes no call; those
    due within ``ahead`` seconds too) and up to ``limit`` due calls that fit their
    concurrency limits; park the calls held back by a full key. ``leases`` makes each
    lease's fencing token."""
    chosen = tx.due_timers(now + ahead, timers) if timers else []
    parked: list[Due] = []
    if limit:
        taken = {due.item.id for due in chosen}
        rows = [due for due in tx.due_items(now, claim_scan(limit)) if due.item.id not in taken]
        picked, parked = _admit(tx, rows, limit, now)
        chosen.extend(picked)
    if not chosen and not parked:
        return []
    held = [(due, leases()) for due in chosen]
    if held:
        tx.lease([(due.item.id, lease, lease_until, due.keys) for due, lease in held])
    # The claimed runs' state in one read, unlocked: a run another process changes
    # meanwhile is as if claimed a moment before that change.
    loaded = tx.run_states(sorted({due.item.run_id for due in [*chosen, *parked]}))
    for due in parked:
        found = loaded.get(due.item.run_id)
        if found is not None:
            tx.tally.delay(found[0].run.function_slug, CONCURRENCY)
    # The first call starting is what timeouts.start measures.
    starting = {
        due.item.run_id
        for due in chosen
        if due.item.kind is not ItemKind.TIMER
        and due.item.run_id in loaded
        and loaded[due.item.run_id][0].run.status is RunStatus.QUEUED
    }
    if starting:
        tx.start_runs(sorted(starting), now)
    return [_claim(tx, due, lease, loaded, starting, now) for due, lease in held]


def claim_scan(limit: int) -> int:
    """How many due calls a claim of ``limit`` calls reads: twice as many, so that calls
    parked behind a full concurrency key leave others to take."""
    return limit * 2


def _admit(tx: Tx, rows: list[Due], limit: int, now: float) -> tuple[list[Due], list[Due]]:
    """The rows that may be called now, and those parked behind a full key."""
    if not any(due.keys for due in rows):
        return rows[:limit], []
    keys = sorted({key for due in rows for key, _ in due.keys})
    tx.lock_keys([slot_lock(key) for key in keys])  # before counting: limits hold in total
    candidates = [Candidate(due.item.id, due.keys) for due in rows]
    picked, parked = concurrency_gate(candidates, tx.in_flight(keys, now), limit)
    for item_id, key in parked.items():
        tx.park(item_id, key)
    return [due for due in rows if due.item.id in picked], [
        due for due in rows if due.item.id in parked
    ]


def _claim(
    tx: Tx,
    due: Due,
    lease: str,
    loaded: Mapping[str, Loaded],
    starting: set[str],
    now: float,
    known: Mapping[str, Event] | None = None,
) -> Claim:
    """The claim of ``due`` with its run's state; ``known`` events need no read."""
    item = due.item
    found = loaded.get(item.run_id)
    if found is None:
        return Claim(item, lease, None)
    row, memos = found
    run = row.run
    if run.id in starting:
        run = replace(run, status=RunStatus.RUNNING, started_at=now)
    given = known or {}
    events = tuple(e for e in (given.get(i) or tx.event(i) for i in run.event_ids) if e is not None)
    return Claim(item, lease, RunState(run=run, events=events, memos=memos))


def first_call(planned: Sequence[tuple[QueueItem, float, Keys]], now: float) -> QueueItem | None:
    """The call of ``planned`` (queued for a run by this transaction) that a claim at
    ``now`` could take at once: due, and holding no concurrency key (those go through the
    gate). Leased with the write that queues it (``Tx.update_run_leasing``) if nothing due
    ranks before it, so that no run's work jumps the queue."""
    return next(
        (
            item
            for item, _, keys in planned
            if item.kind is not ItemKind.TIMER and item.due_at <= now and not keys
        ),
        None,
    )


def planned_claim(
    tx: Tx,
    run: Run,
    call: QueueItem,
    lease: str,
    state: tuple[tuple[Event, ...], tuple[StoredMemo, ...]] | None,
) -> Claim:
    """The claim of ``call``, leased as ``lease``, with ``run``'s state: ``state`` (its
    events and memos) when the caller knows them; otherwise they are read."""
    if state is None:
        events = tuple(e for e in (tx.event(i) for i in run.event_ids) if e is not None)
        state = events, tx.memos(run.id)
    return Claim(call, lease, RunState(run=run, events=state[0], memos=state[1]))


def claim_created(
    tx: Tx,
    run_ids: Sequence[str],
    known: Mapping[str, Run],
    events: Mapping[str, Event],
    now: float,
    limit: int,
    lease_until: float,
    leases: Callable[[], str],
) -> list[Claim]:
    """Lease the first calls of ``run_ids`` (created by this transaction), up to ``limit``,
    as a claim at ``now`` would take them: best rank first, as long as nothing else due
    ranks before them (so no waiting work is overtaken), and none that holds a concurrency
    key (those go through the gate). ``known`` are runs as created, queued with no memos,
    which need no read; ``events`` the runs' events as the caller has them (others are read)."""
    created = set(run_ids)
    taken: list[Due] = []
    for due in tx.due_items(now, min(limit, len(created))):
        item = due.item
        if item.run_id not in created or item.kind is not ItemKind.DISCOVERY or due.keys:
            break
        taken.append(due)
    if not taken:
        return []
    held = [(due, leases()) for due in taken]
    tx.lease([(due.item.id, lease, lease_until, ()) for due, lease in held])
    runs = [due.item.run_id for due in taken]
    unknown = [run_id for run_id in runs if run_id not in known]
    loaded = dict(tx.run_states(unknown)) if unknown else {}
    loaded.update((run_id, (RunRow(known[run_id]), ())) for run_id in runs if run_id in known)
    starting = {run_id for run_id, (row, _) in loaded.items() if row.run.status is RunStatus.QUEUED}
    if starting:
        tx.start_runs(sorted(starting), now)
    return [_claim(tx, due, lease, loaded, starting, now, events) for due, lease in held]
