"""The queue's rules: ranks, the parallel join, concurrency slots and parking, claims."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from inlet.flow.concurrency import Candidate
from inlet.flow.gates import concurrency_gate
from inlet.ids import new_ulid
from inlet.metrics import CONCURRENCY
from inlet.model import ItemKind, NewItem, QueueItem, RunState, RunStatus
from inlet.store.base import Claim
from inlet.store.engine.tx import Due, RunRow, Tx

PARKED = 1e15
"""due_at and rank of an item parked behind a full concurrency key: never due by time."""


def enqueue(tx: Tx, row: RunRow | None, run_id: str, new: NewItem, now: float) -> None:
    """Queue ``new`` for the run. Calls rank ``priority`` seconds sooner than they are due
    and count against the run's concurrency keys; timers do neither. An item that only
    joins a parallel group (``after_join``) is made once no branch of the group is out."""
    if new.after_join and tx.has_branch(run_id):
        return
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
    tx.enqueue(item, new.due_at - priority, keys)


def release(tx: Tx, item_ids: Sequence[str], now: float) -> None:
    """The calls ``item_ids`` are over: free their keys' slots and let the item parked
    longest on each key come due."""
    for item_id in item_ids:
        for key in tx.release_slots(item_id):
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
) -> list[Claim]:
    """Lease due timers (up to ``timers``, beyond ``limit``: a timer makes no call) and
    up to ``limit`` due calls that fit their concurrency limits; park the calls held back
    by a full key. ``leases`` makes each lease's fencing token."""
    chosen = tx.due_timers(now, timers) if timers else []
    if limit:
        taken = {due.item.id for due in chosen}
        rows = [due for due in tx.due_items(now, limit * 2) if due.item.id not in taken]
        chosen.extend(_admit(tx, rows, limit, now))
    return [_lease(tx, due, now, lease_until, leases()) for due in chosen]


def _admit(tx: Tx, rows: list[Due], limit: int, now: float) -> list[Due]:
    if not any(due.keys for due in rows):
        return rows[:limit]
    keys = sorted({key for due in rows for key, _ in due.keys})
    candidates = [Candidate(due.item.id, due.keys) for due in rows]
    picked, parked = concurrency_gate(candidates, tx.in_flight(keys, now), limit)
    run_of = {due.item.id: due.item.run_id for due in rows}
    for item_id, key in parked.items():
        tx.park(item_id, key)
        row = tx.run(run_of[item_id])
        if row is not None:
            tx.tally.delay(row.run.function_slug, CONCURRENCY)
    return [due for due in rows if due.item.id in picked]


def _lease(tx: Tx, due: Due, now: float, lease_until: float, lease: str) -> Claim:
    item = due.item
    tx.lease(item.id, lease, lease_until, due.keys)
    state = run_state(tx, item.run_id)
    if (
        state is not None
        and state.run.status is RunStatus.QUEUED
        and item.kind is not ItemKind.TIMER
    ):
        # The first call starting is what timeouts.start measures.
        run = replace(state.run, status=RunStatus.RUNNING, started_at=now)
        tx.update_run(run)
        state = replace(state, run=run)
    return Claim(item, lease, state)
