"""The narrow port the run engine writes through: rows, not domain verbs.

``inlet.store.engine`` holds the transaction logic (ingest, admission, waits, the queue,
completion) once. Each backend fills this protocol: the SQL backends with named queries
(``inlet.store.sql``), ``MemoryStore`` with dicts. A ``Tx`` is only ever used inside one
transaction, on one thread; it decides nothing (every rule lives in the engine), so two
backends cannot drift apart.

Several processes may write one database at once (PostgreSQL). What a transaction reads
in order to change it is locked first: a run by :meth:`Tx.run`, a flow-control key's
state by :meth:`Tx.lock_keys`; with one writer at a time (SQLite, memory) both are free.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from inlet.metrics import Tally
from inlet.model import (
    Attempt,
    Event,
    Listener,
    NewRun,
    QueueItem,
    Run,
    RunFlow,
    SkipSet,
    StoredMemo,
)

Keys = tuple[tuple[str, int], ...]
"""A run's concurrency keys with their limits: ``((key, limit), ...)``."""
Lease = tuple[str, str, float, Keys]
"""An item leased: ``(item id, lease, until, the concurrency keys it holds)``."""


@dataclass(frozen=True, slots=True)
class RunRow:
    """A run with the flow values its queue items need (priority, concurrency keys)."""

    run: Run
    priority: float = 0.0
    keys: Keys = ()


@dataclass(frozen=True, slots=True)
class FirstLease:
    """An item to lease as a claim at ``now`` would, if it is the first due: for whom
    (``lease``), and until when."""

    item_id: str
    lease: str
    until: float
    now: float


Loaded = tuple[RunRow, tuple[StoredMemo, ...]]
"""A run with its memos in order, as a claim loads it."""
Start = tuple[NewRun, str, float]
"""A plain run to create with its first call (``Tx.insert_queued_runs``): the run, the
call's item id and its rank."""


@dataclass(frozen=True, slots=True)
class Due:
    """A queue item that is due, with the concurrency keys its call would hold."""

    item: QueueItem
    keys: Keys = ()


@dataclass(frozen=True, slots=True)
class GateState:
    """One flow-control gate's state for one key: a GCRA's theoretical arrival time, or
    the run a debounce or batch is collecting into (with when it opened, how many events
    and how many payload bytes it holds)."""

    tat: float | None = None
    run_id: str | None = None
    first_at: float = 0.0
    size: int = 0
    size_bytes: int = 0


class Tx(Protocol):
    """Reads and writes of one transaction. Repeats are no-ops where the row has a unique
    key (an event, a memo, a listener, a run's item per kind and step)."""

    tally: Tally
    """What this transaction ended, skipped and delayed, for ``/metrics`` (a new one for
    each transaction: the store hands it over once committed)."""

    # Events

    def insert_events(self, events: Sequence[Event], skip_set: str | None = None) -> list[str]:
        """Store the events; the internal ids of those that were not stored already.
        ``skip_set``: the id ``insert_skips`` will store their refusals under."""

    def event(self, internal_id: str) -> Event | None: ...

    def events_since(self, name: str, since: float) -> Iterable[Event]:
        """Events named ``name`` received at or after ``since``, oldest first."""

    def insert_skip(self, event_id: str, function_slug: str, reason: str, now: float) -> None:
        """Why ``event_id`` started no run of the function (the first reason stays)."""

    def insert_skips(self, skips: Sequence[SkipSet], now: float, skip_set: str) -> None:
        """``insert_skip`` for each event of ``skips`` (events stored by ``insert_events``
        with ``skip_set``), in one write."""

    # Run keys and flow-control state

    def lock_keys(self, names: Sequence[str]) -> None:
        """Hold the named keys (a concurrency key's slots, a gate's state, a singleton)
        until the transaction ends; another process's transaction locking one of them
        waits until then. A no-op where one transaction writes at a time."""

    def function_paused(self, function_slug: str) -> bool:
        """Whether the function is paused (it starts no run while it is)."""

    def reserve_key(
        self, function_slug: str, key: str, run_id: str, now: float, until: float
    ) -> bool:
        """Hold ``(function, key)`` for ``run_id`` until ``until``; False while another
        holder's time has not run out at ``now``."""

    def reserve_keys(
        self, keys: Sequence[tuple[str, str, str]], now: float, until: float
    ) -> list[bool]:
        """:meth:`reserve_key` for each ``(function, key, run id)`` (the pairs distinct)."""

    def key_holder(self, function_slug: str, key: str) -> str | None: ...

    def gate(self, function_slug: str, gate: str, key: str) -> GateState | None: ...

    def set_gate(self, function_slug: str, gate: str, key: str, state: GateState) -> None: ...

    def clear_gate(self, function_slug: str, gate: str, key: str) -> None: ...

    # Runs

    def insert_run(self, run: Run, flow: RunFlow) -> None:
        """A new run, linked to each of its events."""

    def insert_runs(self, runs: Sequence[tuple[Run, RunFlow]]) -> None:
        """:meth:`insert_run` for each (one write per table where the dialect can)."""

    def insert_queued_runs(self, starts: Sequence[Start], now: float) -> None:
        """Each start's run as ``queued_run`` makes it at ``now`` (:meth:`insert_runs`),
        with its first call: a discovery of ``STEP_DISCOVERY`` due at the run's
        ``due_at``, the item id and rank the start gives, holding the run's concurrency
        keys (:meth:`enqueue_many`). What creating a plain run writes, made from the runs
        as planned: most of an ingest's runs, where an object per row and per item cost
        more than the rows (``inlet.store.engine.admit.create_plain_runs``)."""

    def run(self, run_id: str) -> RunRow | None:
        """The run, to be changed: its row stays locked until the transaction ends."""

    def run_states(self, run_ids: Sequence[str]) -> Mapping[str, Loaded]:
        """The runs with their memos in order, read together without locking them (what a
        claim hands its calls); missing runs are left out."""

    def start_runs(self, run_ids: Sequence[str], at: float) -> None:
        """Mark the runs that are still queued as running since ``at``."""

    def update_run(self, run: Run, then: Sequence[tuple[QueueItem, float, Keys]] = ()) -> None:
        """Write the run's status, times, output, error and counters (not its events), and
        queue ``then`` as :meth:`enqueue_many` would (one write where the dialect can)."""

    def set_run_events(self, run_id: str, event_ids: Sequence[str], dropped: Sequence[str]) -> None:
        """The run now receives ``event_ids``; ``dropped`` events no longer start it."""

    def active_singleton(self, function_slug: str, key: str) -> str | None:
        """A run of the function holding singleton ``key`` that has not ended."""

    def memos(self, run_id: str) -> tuple[StoredMemo, ...]:
        """The run's memos in the order they were recorded."""

    def insert_memo(self, run_id: str, memo: StoredMemo) -> bool:
        """Record a step's output; False if the step has one already."""

    def record_attempt(self, attempt: Attempt) -> None: ...

    # Listeners

    def insert_listener(self, listener: Listener) -> None: ...

    def take_listener(self, listener_id: str) -> bool:
        """Remove the listener; False if it was gone (someone else resolved it)."""

    def drop_step_waits(self, run_id: str, step_id: str) -> None:
        """Remove the step's listeners and timers: it has its memo."""

    def has_branch(self, run_id: str) -> bool:
        """Whether the run has a branch still out: any queue item but a run-timeout timer,
        or any listener but a ``cancelOn``."""

    # The queue

    def enqueue(self, item: QueueItem, rank: float, keys: Keys) -> None:
        """Queue ``item`` ranked at ``rank``, unless the run has one of that kind and step
        already."""

    def enqueue_many(self, items: Sequence[tuple[QueueItem, float, Keys]]) -> None:
        """:meth:`enqueue` for each ``(item, rank, keys)``."""

    def reschedule_start(self, run_id: str, due: float, rank: float) -> None:
        """Move the run's waiting (unleased, unparked) discovery to ``due``."""

    def retry_item(
        self, item_id: str, lease: str, due: float, rank: float, attempt: Attempt
    ) -> bool:
        """Release a leased item to be called again at ``due`` (one attempt more) and record
        the ``attempt`` that ended; False, recording nothing, if ``lease`` no longer holds
        it (the lease check and the history row are one write where the dialect can)."""

    def reset_attempt(self, item_id: str, lease: str, run_id: str) -> bool:
        """Set the leased item's attempt back to 0 (a checkpoint: its call moved on);
        False if ``lease`` no longer holds it or it is not ``run_id``'s."""

    def consume_item(
        self,
        item_id: str,
        lease: str,
        attempt: Attempt,
        run_id: str = "",
        memos: Sequence[StoredMemo] = (),
    ) -> int | None:
        """Delete a leased item, record the ``attempt`` that ended and store the run's
        ``memos`` (those whose step has none yet, numbered on from the first's ``seq``):
        how many were stored; None, changing nothing, if ``lease`` no longer holds it."""

    def consume_ahead(
        self, item_id: str, lease: str, attempt: Attempt, run_id: str, memos: Sequence[StoredMemo]
    ) -> Callable[[], int | None] | None:
        """``consume_item`` sent before the run's row is read, for a backend that pipelines
        its statements (one round trip then answers both): ``memos`` are numbered from 0,
        and stored numbered on from the run's step count only while the run has not ended.
        Its answer, asked once the row is read; None where the backend does not do this
        (the engine then calls ``consume_item`` knowing the row)."""

    def delete_item(self, item_id: str) -> None: ...

    def drop_run_items(self, run_id: str) -> list[str]:
        """Delete the run's items and listeners; the ids of the items that were leased."""

    def release_slots(self, item_id: str) -> list[str]:
        """The item's call is over: the concurrency keys whose slots it held."""

    def unpark_oldest(self, key: str, now: float) -> None:
        """Make the item parked longest on ``key`` due at ``now``."""

    def due_timers(self, now: float, limit: int) -> list[Due]: ...

    def due_items(self, now: float, limit: int) -> list[Due]:
        """Up to ``limit`` due items, best rank first (timers included)."""

    def in_flight(self, keys: Sequence[str], now: float) -> Mapping[str, int]:
        """How many unexpired leases hold a slot of each key."""

    def park(self, item_id: str, key: str) -> None:
        """Hold the item back, not due by time, until a slot of ``key`` frees."""

    def lease(self, leases: Sequence[Lease]) -> None:
        """Lease each item until its time, holding a slot of each of its keys."""

    def lease_if_first(
        self, item_id: str, lease: str, until: float, now: float
    ) -> Callable[[], bool]:
        """Lease the item (its call holds no key) until ``until`` if it is the first of
        ``due_items(now, 1)``; whether it was, asked when needed (a backend that pipelines
        its statements reads the answer with the commit's, not in a round trip of its own)."""

    def update_run_leasing(
        self, run: Run, then: Sequence[tuple[QueueItem, float, Keys]], first: FirstLease
    ) -> Callable[[], bool]:
        """:meth:`update_run`, then :meth:`lease_if_first` of ``first`` (an item of
        ``then``): one write where the dialect can, its answer asked as that one's."""

    def note_due(self, due: float, now: float) -> None:
        """Work due at ``due`` was queued (a shared backend may wake other processes)."""
