"""The PostgreSQL backend: several inlet processes sharing one database.

The domain verbs are the shared SQL logic (``relational``); this module supplies what a
shared database needs on top:

- Writes: each process still groups its writes into one transaction on its store thread
  (group commit; PostgreSQL manages ~3.5k commits/s from one connection). Transactions of
  different processes run side by side (READ COMMITTED); what SQLite's single writer gave
  the shared logic for free is kept by locks on what a transaction changes: a run's row
  before its state is read to be changed (a step's memo, a parallel group's join, a wait
  resolved once), locked for the whole batch when it begins in one order (by id); and a
  transaction-scoped advisory lock per flow-control key (a concurrency key's slots, a
  throttle's, rate limit's, debounce's or batch's state, a singleton) before its
  read-modify-write: a key whose state has no row yet is locked all the same, and nothing
  is written for it. Unique keys do the rest (an event, a run's key, a memo). A batch that
  deadlocks anyway (a cancellation reaching another run) is aborted by PostgreSQL and run
  again (``Writer.ATTEMPTS``).
- Claims read due items ``FOR UPDATE SKIP LOCKED``; a lease's expiry is its ``due_at``, so
  the work of a process that died comes due again when its leases run out.
- Reads (the API, run state for the dashboard) use a connection pool, not the store thread.
- Wake-ups: a transaction that queued work due soon sends ``NOTIFY inlet_work``; every
  other process listens and looks at the queue at once (the sender's own applier woke its
  executor at the commit). Polling stays the correctness path.
- Single-leader jobs (cron) hold a session advisory lock on a connection of their own;
  when the leader's process dies its session ends and another process takes over.
- Migrations are numbered files applied by ``inlet migrate``; opening a database whose
  schema is behind fails with that instruction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
import psycopg_pool

from inlet.errors import SchemaMismatch, StoreError
from inlet.redact import redact
from inlet.store.engine.queue import claim_scan
from inlet.store.pg_adapter import Adapter, AskedAhead
from inlet.store.pg_schema import CONNECT_TIMEOUT
from inlet.store.pg_schema import connect as connect
from inlet.store.pg_schema import migrate as migrate
from inlet.store.pg_schema import schema_version as schema_version
from inlet.store.pg_tx import ClaimTx
from inlet.store.relational import Connection, Cursor, RelationalStore, T, migrations
from inlet.store.sql.rows import json_rows
from inlet.store.sql.tx import Alone, SqlTx
from inlet.store.sql.waited import WAITED_NAMES, WaitedNames
from inlet.store.writer import Session

log = logging.getLogger("inlet.store")

KEY_LOCKS = 0x1A1E9
"""The class of the two-key advisory locks on flow-control keys (a key space apart from
the one-key locks of migrations and leaders)."""
LOCK_RUNS = (
    "SELECT id, function_slug, event_ids, status, created_at, started_at, ended_at, output, "
    "error, request_version, force_plan, state_size, step_count, priority, ckeys "
    "FROM runs WHERE id = ANY(?) ORDER BY id FOR NO KEY UPDATE"
)
LOCK_KEYS = (
    "SELECT pg_advisory_xact_lock(?::int4, k) FROM unnest(?::int4[]) WITH ORDINALITY AS t(k, n) "
    "ORDER BY n"
)
RETRIABLE = (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure)
WORK_CHANNEL = "inlet_work"
FUNCTIONS_CHANNEL = "inlet_functions"
WAITS_CHANNEL = "inlet_waits"
"""A transaction that stored a listener sends its event's name here (``waited_names``)."""
HELLO_CHANNEL = "inlet_hello"
"""A process's listener says here that it has begun to listen: the others notify again."""
LISTENER_NAME = "inlet-listen"
"""The application_name of every process's listening session."""
OTHER_LISTENERS = (
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
    f"AND application_name = '{LISTENER_NAME}' AND pid <> pg_backend_pid()"
)
NOTIFY_HORIZON = 1.0
"""Work due later than this (seconds) needs no wake-up: every process polls that often."""
READ_ATTEMPTS = 3
"""A read is tried on up to this many pooled connections (dead ones after a restart)."""
RECONNECT_PAUSE = 1.0
STORE_SETTINGS = (
    "SELECT set_config('plan_cache_mode', 'force_generic_plan', false), "
    "set_config('enable_seqscan', 'off', false)"
)
"""For the store thread's connection, whose statements (prepared after a few runs) each read
or write a few rows by key. They are planned once: left to choose, PostgreSQL planned some
again on every run because their generic plan assumes 10 ids in an array where a step
passes 1 (the claim's runs_with_memos: ~180 us a plan, about 60 us of PostgreSQL's CPU per
step under W1). And they are planned never to scan a table whole where an index finds the
rows: a plan is made from the statistics of its first runs, and a table empty then (a
fresh database, the first minute before autovacuum analyses it) made ``id = ANY(...)``
a sequential scan, kept until the next ANALYZE while the table grew; W1 with 12,000 runs
spent 684 us of PostgreSQL's CPU a step instead of 229 (medians; docs/performance.md, the
tenth pass). A statement no index serves still scans."""


def key_lock(name: str) -> int:
    """A flow-control key's advisory lock (an int4; two names sharing one only wait for
    each other)."""
    crc = zlib.crc32(name.encode())
    return crc - (1 << 32) if crc >= 1 << 31 else crc


def redacted(url: str) -> str:
    """The URL without its password, for messages (``inlet.redact``)."""
    return redact(url)


class _Transactions:
    """The store thread's transactions; reconnects when the database went away."""

    def __init__(self, store: PostgresStore) -> None:
        self._store = store

    def ready(self) -> None:
        self._store._ensure_connected()

    def begin(self, runs: Sequence[str]) -> None:
        db = self._store._writes
        # BEGIN goes in the pipeline with the batch's first statements: no round trip alone.
        db.start_pipeline()
        db.execute("BEGIN")
        store = self._store
        store._locked.clear()
        store._locking = None
        if runs:  # in one order (the ids sorted), so two batches never wait in a cycle
            # The rows come back with their locks: the job that changes a run reads it
            # here, not with a statement of its own (read when first needed: no trip).
            store._locking = db.execute(LOCK_RUNS, (list(runs),))

    def commit(self) -> None:
        store = self._store
        db = store._writes
        # The NOTIFYs (delivered at COMMIT all the same) and the COMMIT are sent in the
        # pipeline: the transaction's last round trip is the one that checks every answer.
        # An error before them aborts the transaction, so the COMMIT is skipped and
        # end_pipeline raises it as before (then rollback's ROLLBACK finds no transaction,
        # a warning only).
        if store._wake_due and not store._alone:
            db.execute(f"NOTIFY {WORK_CHANNEL}")
        if store._functions_changed:
            db.execute(f"NOTIFY {FUNCTIONS_CHANNEL}")
        for name in store._new_waits:
            db.execute("SELECT pg_notify(?, ?)", (WAITS_CHANNEL, name))
        store._new_waits.clear()
        db.execute("COMMIT")
        db.end_pipeline(check=True)
        store._wake_due = store._functions_changed = False

    def rollback(self) -> None:
        self._store._wake_due = self._store._functions_changed = False
        self._store._new_waits.clear()
        self._store._locked.clear()
        self._store._locking = None
        db = self._store._writes
        db.end_pipeline(check=False)
        db.execute("ROLLBACK")

    def retriable(self, exc: BaseException) -> bool:
        return isinstance(exc, RETRIABLE)

    @property
    def pipelined(self) -> bool:
        return True


class PostgresStore(RelationalStore):
    name = "PostgreSQL"
    shared = True
    _errors = (psycopg.Error, psycopg_pool.PoolTimeout)
    dialect = "postgres"

    def __init__(self, url: str, *, pool_size: int = 4) -> None:
        super().__init__()
        self._url = url
        self._pool_size = pool_size
        self._pg: psycopg.Connection[Any] | None = None
        self._writer_pid = 0
        """The backend of the store thread's connection: the NOTIFYs it sends are this
        process's own, and the applier woke the executor for them already."""
        self._adapter: Adapter | None = None
        self._pool: psycopg_pool.ConnectionPool[Any] | None = None
        self._local = threading.local()
        self._wake_due = False
        self._alone = False
        """No other process listens on this database: its listener found none when it began,
        and no hello since. Work queued here then needs no NOTIFY: it would only wake this
        process's own listener session and thread, a PostgreSQL backend and a thread per
        step. A hello that comes in while a transaction commits may miss that one; the new
        process polls (``NOTIFY_HORIZON``), as polling stays the correctness path."""
        self._functions_changed = False
        self._waited = WaitedNames()
        self._new_waits: set[str] = set()
        """Names of the listeners the current transaction stored, to send at its commit."""
        self._locking: Cursor | None = None
        self._locked: dict[str, tuple[Any, ...]] = {}
        """The rows of the runs the current transaction locked when it began, until a job
        reads or changes them (or a job that named no runs starts: it may change any)."""
        self._was_down = False
        self._watcher: threading.Thread | None = None
        self._watching = threading.Event()
        self._leader: psycopg.Connection[Any] | None = None
        self._led: set[str] = set()
        self._leader_lock = threading.Lock()

    @property
    def url(self) -> str:
        return redacted(self._url)

    # Connection

    def _connect(self) -> tuple[Connection, Session]:
        try:
            conn = connect(self._url)
        except psycopg.OperationalError as exc:
            raise StoreError(f"cannot connect to PostgreSQL at {self.url}: {exc}") from exc
        version = schema_version(conn)
        latest = migrations("postgres")[-1][0]
        if version != latest:
            conn.close()
            if version > latest:
                raise SchemaMismatch(
                    f"database {self.url} has schema version {version}, newer than this inlet "
                    f"({latest}); upgrade inlet"
                )
            raise SchemaMismatch(
                f"database {self.url} has schema version {version}, this inlet needs {latest}: "
                f"run `inlet migrate --database-url {self.url}` first"
            )
        conn.execute(STORE_SETTINGS)
        self._pg = conn
        self._writer_pid = conn.info.backend_pid
        self._adapter = Adapter(conn)
        self._pool = psycopg_pool.ConnectionPool(
            self._url,
            min_size=1,
            max_size=self._pool_size,
            kwargs={"autocommit": True},
            open=True,
            name="inlet-read",
        )
        return self._adapter, _Transactions(self)

    def _ensure_connected(self) -> None:
        pg = self._pg
        if pg is not None and not pg.closed and not pg.broken:
            return
        if not self._was_down:  # say it once per outage, not once per failed batch
            log.error("store.connection_lost", extra={"database": self.url})
            self._was_down = True
        if pg is not None:
            with contextlib.suppress(Exception):
                pg.close()
        try:
            pg = connect(self._url)
            pg.execute(STORE_SETTINGS)
        except psycopg.OperationalError as exc:
            raise StoreError(f"PostgreSQL at {self.url} is unavailable: {exc}") from exc
        self._pg = pg
        self._writer_pid = pg.info.backend_pid
        self._db = self._adapter = Adapter(pg)
        log.warning("store.reconnected", extra={"database": self.url})
        self._was_down = False

    def _disconnect(self) -> None:
        self._watching.clear()
        if self._watcher is not None:
            self._watcher.join(timeout=5)
            self._watcher = None
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        if self._pg is not None:
            self._pg.close()
            self._pg = None
        with self._leader_lock:
            if self._leader is not None:
                with contextlib.suppress(Exception):
                    self._leader.close()
                self._leader = None
            self._led.clear()

    @property
    def _writes(self) -> Adapter:
        """The store thread's connection."""
        if self._adapter is None:
            raise StoreError("the PostgreSQL store is not open")
        return self._adapter

    @property
    def _conn(self) -> Connection:
        db: Connection | None = getattr(self._local, "db", None)
        if db is not None:
            return db
        return super()._conn

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        """Reads run on a pooled connection in a worker thread, beside the store thread."""
        if self._pool is None:
            return await super()._call(fn, *args)
        try:
            return await asyncio.to_thread(self._read, fn, args)
        except self._errors as exc:
            raise StoreError(f"{self.name} error: {exc}") from exc

    def _read(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        pool = self._pool
        if pool is None:
            raise StoreError("the PostgreSQL store is not open")
        for attempt in range(READ_ATTEMPTS):
            try:
                with pool.connection(timeout=CONNECT_TIMEOUT * 2) as conn:
                    self._local.db = Adapter(conn)
                    try:
                        return fn(*args)
                    finally:
                        self._local.db = None
            except psycopg.OperationalError:
                # A pooled connection that died with a database restart fails once. Then
                # every idle one is checked (they all died together), the dead replaced,
                # and the read tried again; checking each connection before every read
                # would cost a round trip per read.
                if attempt == READ_ATTEMPTS - 1:
                    raise
                with contextlib.suppress(psycopg.Error, psycopg_pool.PoolTimeout):
                    pool.check()
        raise AssertionError("unreachable")

    # What differs from one process owning the database

    def horizon(self, db: Connection) -> float:
        return 0.0  # postgres.sql's due_items adds queue_horizon's, in the same statement

    def note_delay(self, db: Connection, delay: float) -> None:
        db.execute(
            "UPDATE queue_horizon SET max_delay = ? WHERE id = 1 AND max_delay < ?",
            (delay, delay),
        )

    def noted_due(self, due: float, now: float) -> None:
        if due <= now + NOTIFY_HORIZON:
            self._wake_due = True

    def _noted_functions(self) -> None:
        self._functions_changed = True

    def _listened(self, names: set[str]) -> bool:
        return self._waited.may_wait(names)

    def noted_listener(self, event: str) -> None:
        self._waited.add(event)
        self._new_waits.add(event)

    def _claim_tx(self, now: float, limit: int) -> SqlTx:
        return ClaimTx(self._conn, self._q, self, now, claim_scan(limit))

    def ask_paused_ahead(self, tx: SqlTx) -> None:
        # Sent before the events' insert, answered with it: one round trip for both.
        tx.paused = AskedAhead(tx.db.execute(tx.q["paused_functions"]))

    def lock_keys(self, db: Connection, names: Sequence[str]) -> None:
        if names:  # sorted: every transaction takes its keys in one order
            db.execute(LOCK_KEYS, (KEY_LOCKS, sorted({key_lock(name) for name in names})))

    def id_list(self, ids: Sequence[str]) -> Any:
        return list(ids)

    def locked_run(self, run_id: str) -> tuple[Any, ...] | None:
        if self._locking is not None:
            self._locked = {row[0]: row for row in self._locking}
            self._locking = None
        return self._locked.pop(run_id, None)

    def forget_runs(self, run_ids: Sequence[str] | None = None) -> None:
        if run_ids is None:
            self._locking = None
            self._locked.clear()
        else:
            for run_id in run_ids:
                self._locked.pop(run_id, None)

    def write_rows(self, db: Connection, sql: str, rows: list[tuple[Any, ...]]) -> None:
        # postgres.sql's text of every statement written this way takes the rows as one
        # JSON array: one statement for all of them, where executemany sends one per row.
        if rows:
            db.execute(sql, (json_rows(rows),))

    def gather(self, sql: str, row: tuple[Any, ...], alone: Alone) -> Callable[[], Any]:
        if self._adapter is None:
            raise StoreError("the PostgreSQL store is not open")
        return self._adapter.gather(sql, row, alone)

    async def release_all(self) -> int:
        # Other processes may hold leases right now: they are never dropped here. A
        # process that died has its leases expire, and its items come due again.
        return 0

    # Wake-ups

    def watch(self, on_work: Callable[[], None], on_functions: Callable[[], None]) -> None:
        loop = asyncio.get_running_loop()
        self._watching.set()

        def deliver(channel: str) -> None:
            (on_work if channel == WORK_CHANNEL else on_functions)()

        def run() -> None:
            conn: psycopg.Connection[Any] | None = None
            while self._watching.is_set():
                try:
                    if conn is None or conn.closed or conn.broken:
                        self._waited.forget()  # unsure until listening again
                        conn = connect(self._url, LISTENER_NAME)
                        conn.execute(f"LISTEN {HELLO_CHANNEL}")
                        conn.execute(f"NOTIFY {HELLO_CHANNEL}")
                        others = conn.execute(OTHER_LISTENERS).fetchone()
                        # Counted after LISTEN: one that starts later is heard saying hello.
                        self._alone = others is not None and others[0] == 0
                        conn.execute(f"LISTEN {WORK_CHANNEL}")
                        conn.execute(f"LISTEN {FUNCTIONS_CHANNEL}")
                        conn.execute(f"LISTEN {WAITS_CHANNEL}")
                        # After LISTEN: a listener stored from now on is heard of.
                        self._waited.load(r[0] for r in conn.execute(WAITED_NAMES))
                        # Whatever was sent while we were not listening: look once.
                        loop.call_soon_threadsafe(deliver, WORK_CHANNEL)
                        loop.call_soon_threadsafe(deliver, FUNCTIONS_CHANNEL)
                    for note in conn.notifies(timeout=0.5):
                        if note.channel == HELLO_CHANNEL:
                            if note.pid != conn.info.backend_pid:
                                self._alone = False
                            continue
                        if note.channel == WAITS_CHANNEL:
                            self._waited.add(note.payload)
                            continue
                        if note.channel == WORK_CHANNEL and note.pid == self._writer_pid:
                            # Work this process queued: the applier woke the executor
                            # when it committed. Waking it again here came a few ms
                            # later and made it claim once more for nothing.
                            continue
                        loop.call_soon_threadsafe(deliver, note.channel)
                except (psycopg.Error, RuntimeError):
                    self._alone = False  # unsure while not listening: notify
                    self._waited.forget()
                    if conn is not None:
                        with contextlib.suppress(Exception):
                            conn.close()
                    conn = None
                    time.sleep(RECONNECT_PAUSE)
            self._alone = False
            self._waited.forget()
            if conn is not None:
                conn.close()

        self._watcher = threading.Thread(target=run, name="inlet-pg-listen", daemon=True)
        self._watcher.start()

    # Leaders

    async def lead(self, job: str) -> bool:
        return await asyncio.to_thread(self._lead, job)

    def _lead(self, job: str) -> bool:
        key = zlib.crc32(f"inlet:{job}".encode())
        with self._leader_lock:
            conn = self._leader
            try:
                if conn is None or conn.closed or conn.broken:
                    self._led.clear()
                    conn = self._leader = connect(self._url)
                if job in self._led:
                    conn.execute("SELECT 1")  # still our session, so still our lock
                    return True
                row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
            except psycopg.Error:
                self._led.clear()
                if conn is not None:
                    with contextlib.suppress(Exception):
                        conn.close()
                self._leader = None
                return False
            if row is not None and row[0]:
                self._led.add(job)
                log.info("store.leader", extra={"job": job})
                return True
            return False
