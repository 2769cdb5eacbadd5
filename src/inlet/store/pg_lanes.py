"""A PostgreSQL store's write lanes: each a store thread with a connection of its own.

One connection writes one statement at a time: under a burst, the store thread and its
PostgreSQL backend take turns, and the calls in flight wait for that pair (docs/
performance.md, "A burst on PostgreSQL"). The completions of calls are split over
several lanes by their run (a run stays on one lane), so two backends run their
statements at once; everything else goes to the first lane. Lanes of one process are
kept apart from each other as different processes are: by the row and key locks of
their transactions (``postgres``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import psycopg

from inlet.errors import StoreError
from inlet.store.pg_adapter import Adapter
from inlet.store.relational import Cursor

if TYPE_CHECKING:
    from inlet.store.postgres import PostgresStore

LOCK_RUNS = (
    "SELECT id, function_slug, event_ids, status, created_at, started_at, ended_at, output, "
    "error, request_version, force_plan, state_size, step_count, priority, ckeys "
    "FROM runs WHERE id = ANY(?) ORDER BY id FOR NO KEY UPDATE"
)
RETRIABLE = (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure)
WORK_CHANNEL = "inlet_work"
FUNCTIONS_CHANNEL = "inlet_functions"
WAITS_CHANNEL = "inlet_waits"
"""A transaction that stored a listener sends its event's name here (``waited_names``)."""


@dataclass(eq=False)
class Lane:
    """One store thread's connection and what its current transaction noted."""

    pg: psycopg.Connection[Any] | None = None
    adapter: Adapter | None = None
    pid: int = 0
    """The connection's backend: the NOTIFYs it sends are this process's own, and the
    applier woke the executor for them already."""
    wake_due: bool = False
    functions_changed: bool = False
    new_waits: set[str] = field(default_factory=set)
    """Names of the listeners the current transaction stored, to send at its commit."""
    locking: Cursor | None = None
    locked: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    """The rows of the runs the current transaction locked when it began, until a job
    reads or changes them (or a job that named no runs starts: it may change any)."""
    was_down: bool = False

    def connected(self, pg: psycopg.Connection[Any]) -> Adapter:
        self.pg = pg
        self.pid = pg.info.backend_pid
        self.adapter = Adapter(pg)
        return self.adapter

    @property
    def writes(self) -> Adapter:
        if self.adapter is None:
            raise StoreError("the PostgreSQL store is not open")
        return self.adapter


class Transactions:
    """A lane's transactions; reconnects when the database went away."""

    def __init__(self, store: PostgresStore, lane: Lane) -> None:
        self._store = store
        self._lane = lane

    def ready(self) -> None:
        self._store._ensure_connected(self._lane)

    def begin(self, runs: Sequence[str]) -> None:
        lane = self._lane
        db = lane.writes
        # BEGIN goes in the pipeline with the batch's first statements: no round trip alone.
        db.start_pipeline()
        db.execute("BEGIN")
        lane.locked.clear()
        lane.locking = None
        if runs:  # in one order (the ids sorted), so two batches never wait in a cycle
            # The rows come back with their locks: the job that changes a run reads it
            # here, not with a statement of its own (read when first needed: no trip).
            lane.locking = db.execute(LOCK_RUNS, (list(runs),))

    def commit(self) -> None:
        lane = self._lane
        db = lane.writes
        # The NOTIFYs (delivered at COMMIT all the same) and the COMMIT are sent in the
        # pipeline: the transaction's last round trip is the one that checks every answer.
        # An error before them aborts the transaction, so the COMMIT is skipped and
        # end_pipeline raises it as before (then rollback's ROLLBACK finds no transaction,
        # a warning only).
        if lane.wake_due and not self._store._alone:
            db.execute(f"NOTIFY {WORK_CHANNEL}")
        if lane.functions_changed:
            db.execute(f"NOTIFY {FUNCTIONS_CHANNEL}")
        for name in lane.new_waits:
            db.execute("SELECT pg_notify(?, ?)", (WAITS_CHANNEL, name))
        lane.new_waits.clear()
        db.execute("COMMIT")
        db.end_pipeline(check=True)
        lane.wake_due = lane.functions_changed = False

    def rollback(self) -> None:
        lane = self._lane
        lane.wake_due = lane.functions_changed = False
        lane.new_waits.clear()
        lane.locked.clear()
        lane.locking = None
        db = lane.writes
        db.end_pipeline(check=False)
        db.execute("ROLLBACK")

    def retriable(self, exc: BaseException) -> bool:
        return isinstance(exc, RETRIABLE)

    @property
    def pipelined(self) -> bool:
        return True
