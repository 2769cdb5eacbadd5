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
from inlet.store.completion import Completion
from inlet.store.engine.queue import claim_scan
from inlet.store.pg_adapter import Adapter, AskedAhead
from inlet.store.pg_lanes import FUNCTIONS_CHANNEL, WAITS_CHANNEL, WORK_CHANNEL, Lane, Transactions
from inlet.store.pg_schema import CONNECT_TIMEOUT
from inlet.store.pg_schema import connect as connect
from inlet.store.pg_schema import migrate as migrate
from inlet.store.pg_schema import schema_version as schema_version
from inlet.store.pg_tx import ClaimTx
from inlet.store.relational import Connection, RelationalStore, T, migrations
from inlet.store.sql.tx import SqlTx
from inlet.store.sql.waited import WAITED_NAMES, WaitedNames
from inlet.store.writer import Session, Writer

log = logging.getLogger("inlet.store")

KEY_LOCKS = 0x1A1E9
"""The class of the two-key advisory locks on flow-control keys (a key space apart from
the one-key locks of migrations and leaders)."""
LOCK_KEYS = (
    "SELECT pg_advisory_xact_lock(?::int4, k) FROM unnest(?::int4[]) WITH ORDINALITY AS t(k, n) "
    "ORDER BY n"
)
HELLO_CHANNEL = "inlet_hello"
"""A process's listener says here that it has begun to listen: the others notify again."""
LISTENER_NAME = "inlet-listen"
"""The application_name of every process's listening session."""
OTHER_LISTENERS = (
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
    f"AND application_name = '{LISTENER_NAME}' AND pid <> pg_backend_pid()"
)
LANES = 2
"""Write lanes per process (``pg_lanes``): 1 is one store thread, as on SQLite."""
NOTIFY_HORIZON = 1.0
"""Work due later than this (seconds) needs no wake-up: every process polls that often."""
READ_ATTEMPTS = 3
"""A read is tried on up to this many pooled connections (dead ones after a restart)."""
RECONNECT_PAUSE = 1.0
GENERIC_PLANS = "SET plan_cache_mode = force_generic_plan"
"""For the store thread's connection: its statements (prepared after a few runs) are planned
once. Left to choose, PostgreSQL planned some again on every run because their generic plan
assumes 10 ids in an array where a step passes 1 (the claim's runs_with_memos: ~180 us a
plan, about 60 us of PostgreSQL's CPU per step under W1)."""


def key_lock(name: str) -> int:
    """A flow-control key's advisory lock (an int4; two names sharing one only wait for
    each other)."""
    crc = zlib.crc32(name.encode())
    return crc - (1 << 32) if crc >= 1 << 31 else crc


def redacted(url: str) -> str:
    """The URL without its password, for messages (``inlet.redact``)."""
    return redact(url)


class PostgresStore(RelationalStore):
    name = "PostgreSQL"
    shared = True
    _errors = (psycopg.Error, psycopg_pool.PoolTimeout)
    dialect = "postgres"

    def __init__(self, url: str, *, pool_size: int = 4, lanes: int = LANES) -> None:
        super().__init__()
        self._url = url
        self._pool_size = pool_size
        self._main = Lane()
        """The store thread's (``RelationalStore._writer``): every job but completions."""
        self._lanes = max(lanes, 1)
        self._extra: list[tuple[Writer, Lane]] = []
        """The other lanes' threads (``pg_lanes``), opened with the store."""
        self._pool: psycopg_pool.ConnectionPool[Any] | None = None
        self._local = threading.local()
        self._alone = False
        """No other process listens on this database: its listener found none when it began,
        and no hello since. Work queued here then needs no NOTIFY: it would only wake this
        process's own listener session and thread, a PostgreSQL backend and a thread per
        step. A hello that comes in while a transaction commits may miss that one; the new
        process polls (``NOTIFY_HORIZON``), as polling stays the correctness path."""
        self._waited = WaitedNames()
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
        conn.execute(GENERIC_PLANS)
        adapter = self._main.connected(conn)
        self._pool = psycopg_pool.ConnectionPool(
            self._url,
            min_size=1,
            max_size=self._pool_size,
            kwargs={"autocommit": True},
            open=True,
            name="inlet-read",
        )
        return adapter, Transactions(self, self._main)

    def _ensure_connected(self, lane: Lane) -> None:
        """On ``lane``'s thread, before each batch."""
        pg = lane.pg
        if pg is not None and not pg.closed and not pg.broken:
            return
        if not lane.was_down:  # say it once per outage, not once per failed batch
            log.error("store.connection_lost", extra={"database": self.url})
            lane.was_down = True
        if pg is not None:
            with contextlib.suppress(Exception):
                pg.close()
        self._lane_connect(lane)
        log.warning("store.reconnected", extra={"database": self.url})
        lane.was_down = False

    def _lane_connect(self, lane: Lane) -> None:
        try:
            pg = connect(self._url)
            pg.execute(GENERIC_PLANS)
        except psycopg.OperationalError as exc:
            raise StoreError(f"PostgreSQL at {self.url} is unavailable: {exc}") from exc
        adapter = lane.connected(pg)
        if lane is self._main:
            self._db = adapter
        else:  # the lane's own thread: its jobs' statements go to its connection
            self._local.lane, self._local.db = lane, adapter

    async def open(self) -> None:
        await super().open()
        loop = asyncio.get_running_loop()
        try:
            for k in range(1, self._lanes):
                writer, lane = Writer(loop, f"inlet-postgresql-{k}"), Lane()
                writer.start()
                self._extra.append((writer, lane))
                opened: asyncio.Future[None] = loop.create_future()
                writer.jobs.put((self._open_lane, (writer, lane), opened, False, ()))
                await opened
        except BaseException:
            await self.close()
            raise

    def _open_lane(self, writer: Writer, lane: Lane) -> None:
        self._lane_connect(lane)
        writer.session = Transactions(self, lane)

    async def close(self) -> None:
        extra, self._extra = self._extra, []
        for writer, _ in extra:
            writer.jobs.put(None)
        for writer, lane in extra:
            await asyncio.get_running_loop().run_in_executor(None, writer.join)
            if lane.pg is not None:
                lane.pg.close()
            writer.refuse_queued(StoreError(f"the {self.name} store is closed"))
        await super().close()

    def _writer_for(self, fn: Callable[..., Any], runs: tuple[str, ...]) -> Writer | None:
        # A run's completions stay on one lane; every other job on the first.
        if self._extra and runs and isinstance(fn, Completion):
            k = hash(runs[0]) % self._lanes
            if k:
                return self._extra[k - 1][0]
        return self._writer

    @property
    def _lane(self) -> Lane:
        """The current thread's lane (the first lane's outside the others' threads)."""
        lane: Lane | None = getattr(self._local, "lane", None)
        return self._main if lane is None else lane

    def _disconnect(self) -> None:
        self._watching.clear()
        if self._watcher is not None:
            self._watcher.join(timeout=5)
            self._watcher = None
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        if self._main.pg is not None:
            self._main.pg.close()
            self._main.pg = None
        with self._leader_lock:
            if self._leader is not None:
                with contextlib.suppress(Exception):
                    self._leader.close()
                self._leader = None
            self._led.clear()

    @property
    def _writes(self) -> Adapter:
        """The current lane's connection (the store thread's, outside the other lanes)."""
        return self._lane.writes

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
            self._lane.wake_due = True

    def _noted_functions(self) -> None:
        self._lane.functions_changed = True

    def _listened(self, names: set[str]) -> bool:
        return self._waited.may_wait(names)

    def noted_listener(self, event: str) -> None:
        self._waited.add(event)
        self._lane.new_waits.add(event)

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
        lane = self._lane
        if lane.locking is not None:
            lane.locked = {row[0]: row for row in lane.locking}
            lane.locking = None
        return lane.locked.pop(run_id, None)

    def forget_runs(self, run_ids: Sequence[str] | None = None) -> None:
        lane = self._lane
        if run_ids is None:
            lane.locking = None
            lane.locked.clear()
        else:
            for run_id in run_ids:
                lane.locked.pop(run_id, None)

    def write_rows(self, db: Connection, sql: str, rows: list[tuple[Any, ...]]) -> None:
        # postgres.sql's text of every statement written this way takes a column per
        # array: one statement for all the rows, where executemany sends one per row.
        if rows:
            db.execute(sql, [list(column) for column in zip(*rows, strict=True)])

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
                        if note.channel == WORK_CHANNEL and note.pid in self._pids():
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

    def _pids(self) -> set[int]:
        """The backends of this process's lanes."""
        return {self._main.pid, *(lane.pid for _, lane in self._extra)}

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
