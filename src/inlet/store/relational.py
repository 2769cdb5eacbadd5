"""The store logic shared by the SQL backends (SQLite, PostgreSQL).

Every statement runs on one dedicated thread per process (``writer.Writer``): the drivers
block, the event loop must not. Writes arrive as jobs that the thread groups into one
transaction (group commit). The SQL is the subset both databases speak (``ON CONFLICT``,
``RETURNING``, recursive CTEs); a backend supplies the connection, the transaction
boundaries and the few things that differ (claim locking, caches that are only sound when
one process owns the database).
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import itertools
import queue
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from importlib import resources
from typing import Any, Protocol, TypeVar

import orjson

from inlet.errors import StoreError
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
    RunState,
    RunStatus,
    Skip,
    StoredMemo,
    Trigger,
)
from inlet.steps.waits import invoke_refused
from inlet.store import gating as gates
from inlet.store.base import Claim, IngestResult, Store
from inlet.store.writer import Session, Writer

T = TypeVar("T")

_QUEUE_COLUMNS = "id, run_id, kind, step_id, due_at, attempt, join_, name, payload"
_LISTENER_COLUMNS = (
    "id, run_id, kind, event, expression, index_path, index_value, step_id, expires_at"
)
_STEP_OPS = ("StepRun", "Step", "StepFailed")
"""Memos of these ops never have a listener or timer to clear."""
PARKED = 1e15
"""due_at and rank of an item parked behind a full concurrency key: never due by time."""
IDEMPOTENCY_TTL = 24 * 60 * 60.0
EVENT_CACHE_SIZE = 10_000
# The distinct index paths of an event name's listeners, one index probe per path
# (a skip scan): SELECT DISTINCT would read every listener of the name.
_DISTINCT_PATHS = """
WITH RECURSIVE paths(path) AS (
    SELECT min(index_path) FROM listeners WHERE event = ?
    UNION ALL
    SELECT (SELECT min(index_path) FROM listeners WHERE event = ? AND index_path > path)
    FROM paths WHERE path IS NOT NULL
)
SELECT path FROM paths WHERE path IS NOT NULL
"""
_RUN_COLUMNS = (
    "id, function_slug, event_ids, status, created_at, started_at, ended_at, output, error, "
    "request_version, force_plan, state_size, step_count"
)


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """What the shared logic needs of a driver's connection (sqlite3's shape)."""

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Cursor: ...

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Cursor: ...


def migrations(dialect: str) -> list[tuple[int, str]]:
    """The numbered schema files ``sql/<dialect>_NNN_*.sql``, in order."""
    found = []
    for entry in resources.files("inlet.store").joinpath("sql").iterdir():
        name = entry.name
        if name.startswith(f"{dialect}_") and name.endswith(".sql"):
            found.append((int(name.split("_")[1]), entry.read_text()))
    return sorted(found)


def statements(sql: str) -> list[str]:
    """A migration file's statements (separated by a semicolon at the end of a line)."""
    return [part for part in sql.split(";\n") if part.strip()]


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value)


def _loads(blob: bytes | None) -> Any:
    return None if blob is None else orjson.loads(blob)


def _event_row(event: Event) -> tuple[str, str, bytes, float]:
    body = event.to_wire()
    return event.internal_id, event.name, _dumps(body), event.received_at


def _event_from(internal_id: str, body: bytes, received_at: float) -> Event:
    wire = orjson.loads(body)
    return Event(
        internal_id=internal_id,
        name=wire["name"],
        data=wire["data"],
        id=wire["id"],
        ts=wire["ts"],
        v=wire.get("v"),
        user=wire.get("user") or {},
        received_at=received_at,
    )


def _run_from(row: tuple[Any, ...]) -> Run:
    return Run(
        id=row[0],
        function_slug=row[1],
        event_ids=tuple(orjson.loads(row[2])),
        status=RunStatus(row[3]),
        created_at=row[4],
        started_at=row[5],
        ended_at=row[6],
        output=_loads(row[7]),
        error=_loads(row[8]),
        request_version=row[9],
        force_plan=bool(row[10]),
        state_size=row[11],
        step_count=row[12],
    )


def _item_from(row: tuple[Any, ...]) -> QueueItem:
    return QueueItem(
        id=row[0],
        run_id=row[1],
        kind=ItemKind(row[2]),
        step_id=row[3],
        due_at=row[4],
        attempt=row[5],
        join=bool(row[6]),
        name=row[7],
        payload=_loads(row[8]),
    )


def _listener_from(row: tuple[Any, ...]) -> Listener:
    index: tuple[tuple[str, Any], ...] = ()
    if row[5]:
        index = ((row[5], orjson.loads(row[6])),)
    return Listener(
        id=row[0],
        run_id=row[1],
        kind=ListenerKind(row[2]),
        event=row[3],
        expression=row[4],
        index=index,
        step_id=row[7],
        expires_at=row[8],
    )


def _resumed(resume: Resume, now: float) -> Attempt:
    """The history row of a wait or invoke resolved by an event."""
    return Attempt(
        run_id=resume.run_id,
        item_id="",
        step_id=resume.step_id,
        attempt=0,
        started_at=now,
        ended_at=now,
        outcome="resumed",
        output=resume.memo,
        op_step=resume.step_id,
    )


class RelationalStore(Store):
    """The domain verbs in SQL; subclasses connect and bound the transactions."""

    name = "SQL"

    def __init__(self) -> None:
        self._writer: Writer | None = None
        self._db: Connection | None = None
        self._leases = itertools.count(1)
        self._events: dict[str, Event] = {}
        """Recently read events, decoded (events never change once stored)."""

    # What a backend supplies

    @abc.abstractmethod
    def _connect(self) -> tuple[Connection, Session]:
        """Open (and check or migrate) the database; runs on the store thread."""

    @abc.abstractmethod
    def _disconnect(self) -> None:
        """Close what ``_connect`` opened; runs after the store thread has left."""

    @abc.abstractmethod
    def _horizon(self, db: Connection) -> float:
        """The largest delay a negative priority gave any queued item: how far past
        ``now`` the claim's scan by rank must reach."""

    @abc.abstractmethod
    def _note_delay(self, db: Connection, delay: float) -> None:
        """A run was queued ``delay`` seconds later than due (a negative priority)."""

    def _listened(self, names: set[str]) -> bool:
        """Whether some listener may wait for one of ``names`` (True when unsure)."""
        return True

    def _noted_listener(self, event: str) -> None:
        """A listener for ``event`` was stored."""

    def _noted_due(self, due: float, now: float) -> None:
        """An item due at ``due`` was queued or unparked (other processes may want to know)."""

    def _noted_functions(self) -> None:
        """An app's functions were stored."""

    _CLAIM_LOCK = ""
    """Appended to the claim's SELECT (a row lock for backends with several processes)."""

    _errors: tuple[type[BaseException], ...] = ()
    """The driver's errors, reported as ``StoreError``."""

    # Lifecycle

    async def open(self) -> None:
        self._writer = Writer(asyncio.get_running_loop(), f"inlet-{self.name.lower()}")
        self._writer.start()
        try:
            await self._call(self._open)
        except BaseException:
            self._writer.jobs.put(None)
            self._writer = None
            raise

    def _open(self) -> None:
        db, session = self._connect()
        self._db = db
        assert self._writer is not None
        self._writer.session = session

    async def close(self) -> None:
        if self._writer is None:
            return
        # The sentinel comes after every queued job; the connection is closed only once the
        # store thread has finished them and left, never inside a batch's transaction.
        writer = self._writer
        writer.jobs.put(None)
        await asyncio.get_running_loop().run_in_executor(None, writer.join)
        self._writer = None
        self._db = None
        self._disconnect()
        # Anything queued behind the sentinel would wait forever: fail it instead.
        while True:
            try:
                job = writer.jobs.get_nowait()
            except queue.Empty:
                break
            if job is not None and not job[2].done():
                job[2].set_exception(StoreError(f"the {self.name} store is closed"))

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a read (or set-up) on the store thread."""
        return await self._submit(fn, args, write=False)

    async def _write(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a write on the store thread, in a transaction it may share with others."""
        return await self._submit(fn, args, write=True)

    async def _submit(self, fn: Callable[..., T], args: tuple[Any, ...], *, write: bool) -> T:
        if self._writer is None:
            raise StoreError(f"the {self.name} store is not open")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._writer.jobs.put((fn, args, future, write))
        try:
            return await future
        except self._errors as exc:
            raise StoreError(f"{self.name} error: {exc}") from exc

    @property
    def _conn(self) -> Connection:
        if self._db is None:
            raise StoreError(f"the {self.name} store is not open")
        return self._db

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        """The connection, inside the transaction the store thread opened for this batch."""
        yield self._conn

    # Apps and functions

    async def save_app(self, app: App, functions: Sequence[Function]) -> bool:
        return await self._write(self._save_app, app, list(functions))

    def _save_app(self, app: App, functions: list[Function]) -> bool:
        with self._tx() as db:
            row = db.execute("SELECT checksum FROM apps WHERE url = ?", (app.url,)).fetchone()
            db.execute(
                "INSERT INTO apps (url, app_id, sdk, framework, checksum, synced_at, error) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (url) DO UPDATE SET "
                "app_id = excluded.app_id, sdk = excluded.sdk, framework = excluded.framework, "
                "checksum = excluded.checksum, synced_at = excluded.synced_at, "
                "error = excluded.error",
                (
                    app.url,
                    app.app_id,
                    app.sdk,
                    app.framework,
                    app.checksum,
                    app.synced_at,
                    app.error,
                ),
            )
            db.execute("DELETE FROM functions WHERE app_url = ?", (app.url,))
            db.executemany(
                "INSERT INTO functions (slug, app_url, name, url, triggers, retries, config) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (slug) DO UPDATE SET "
                "app_url = excluded.app_url, name = excluded.name, url = excluded.url, "
                "triggers = excluded.triggers, retries = excluded.retries, "
                "config = excluded.config",
                [
                    (
                        f.slug,
                        f.app_url,
                        f.name,
                        f.url,
                        _dumps([[t.event, t.expression, t.cron, t.jitter] for t in f.triggers]),
                        f.retries,
                        _dumps(f.config),
                    )
                    for f in functions
                ],
            )
            self._noted_functions()
            return row is None or row[0] != app.checksum

    async def set_app_error(self, url: str, error: str | None, now: float) -> None:
        await self._write(self._set_app_error, url, error)

    def _set_app_error(self, url: str, error: str | None) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO apps (url, app_id, error) VALUES (?, '', ?) "
                "ON CONFLICT (url) DO UPDATE SET error = excluded.error",
                (url, error),
            )

    async def list_apps(self) -> list[App]:
        return await self._call(self._list_apps)

    def _list_apps(self) -> list[App]:
        rows = self._conn.execute(
            "SELECT url, app_id, sdk, framework, checksum, synced_at, error FROM apps ORDER BY url"
        ).fetchall()
        return [App(*row) for row in rows]

    async def list_functions(self) -> list[Function]:
        return await self._call(self._list_functions)

    def _list_functions(self) -> list[Function]:
        rows = self._conn.execute(
            "SELECT slug, app_url, name, url, triggers, retries, config FROM functions "
            "ORDER BY slug"
        ).fetchall()
        return [
            Function(
                slug=r[0],
                app_url=r[1],
                name=r[2],
                url=r[3],
                triggers=tuple(Trigger(*t) for t in orjson.loads(r[4])),
                retries=r[5],
                config=orjson.loads(r[6]),
            )
            for r in rows
        ]

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
        return await self._write(
            self._ingest_tx, list(events), list(runs), now, key_ttl, list(resumes), list(cancels)
        )

    def _ingest_tx(
        self,
        events: list[Event],
        runs: list[NewRun],
        now: float,
        key_ttl: float,
        resumes: list[Resume],
        cancels: list[Cancellation],
    ) -> IngestResult:
        with self._tx() as db:
            return self._ingest(db, events, runs, now, key_ttl, resumes, cancels)

    def _ingest(
        self,
        db: Connection,
        events: Sequence[Event],
        runs: Sequence[NewRun],
        now: float,
        key_ttl: float,
        resumes: Sequence[Resume] = (),
        cancels: Sequence[Cancellation] = (),
    ) -> IngestResult:
        new_events = []
        for event in events:
            cur = db.execute(
                "INSERT INTO events (internal_id, name, body, received_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                _event_row(event),
            )
            if cur.rowcount:
                new_events.append(event.internal_id)
        created = []
        fresh = set(new_events)
        for new in runs:
            if self._create_run(db, new, now, key_ttl, fresh):
                created.append(new.id)
        resumed = [r.listener_id for r in resumes if self._resume(db, r, now)]
        cancelled = [c.run_id for c in cancels if self._cancel(db, c, now, key_ttl)]
        return IngestResult(tuple(new_events), tuple(created), tuple(resumed), tuple(cancelled))

    def _reserve(
        self, db: Connection, slug: str, key: str, run_id: str, now: float, ttl: float
    ) -> bool:
        """Take ``(slug, key)`` for ``ttl`` seconds; False if someone holds it still."""
        cur = db.execute(
            "INSERT INTO run_keys (function_slug, key, run_id, expires_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (function_slug, key) DO UPDATE SET "
            "run_id = excluded.run_id, expires_at = excluded.expires_at "
            "WHERE run_keys.expires_at <= ?",
            (slug, key, run_id, now + ttl, now),
        )
        return bool(cur.rowcount)

    def _skip(self, db: Connection, new: NewRun, reason: str, now: float, fresh: set[str]) -> bool:
        # A retried send of an event already stored is not news: only new events get a skip.
        for event_id in new.event_ids:
            if event_id in fresh:
                db.execute(
                    "INSERT INTO skips (event_id, function_slug, reason, at) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    (event_id, new.function_slug, reason, now),
                )
            event = self._get_event(event_id)
            resume = invoke_refused(event, reason) if event is not None else None
            if resume is not None:
                self._resume(db, resume, now)
        return False

    def _gate_state(self, db: Connection, slug: str, gate: str, key: str) -> tuple[Any, ...] | None:
        row: tuple[Any, ...] | None = db.execute(
            "SELECT tat, run_id, first_at, size FROM flow_state "
            "WHERE function_slug = ? AND gate = ? AND key = ?",
            (slug, gate, key),
        ).fetchone()
        return row

    def _set_gate_state(
        self,
        db: Connection,
        slug: str,
        gate: str,
        key: str,
        *,
        tat: float | None = None,
        run_id: str | None = None,
        first_at: float | None = None,
        size: int = 0,
    ) -> None:
        db.execute(
            "INSERT INTO flow_state (function_slug, gate, key, tat, run_id, first_at, size) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (function_slug, gate, key) DO UPDATE SET "
            "tat = excluded.tat, run_id = excluded.run_id, first_at = excluded.first_at, "
            "size = excluded.size",
            (slug, gate, key, tat, run_id, first_at, size),
        )

    def _pending(
        self, db: Connection, slug: str, gate: str, key: str
    ) -> tuple[str, float, int] | None:
        """The run a debounce or batch is collecting events into, while it has not started."""
        row = self._gate_state(db, slug, gate, key)
        if row is None or row[1] is None:
            return None
        status = db.execute("SELECT status FROM runs WHERE id = ?", (row[1],)).fetchone()
        if status is None or status[0] != RunStatus.QUEUED.value:
            return None
        return row[1], row[2], row[3]

    def _create_run(
        self, db: Connection, new: NewRun, now: float, key_ttl: float, fresh: set[str]
    ) -> bool:
        """Create ``new`` if its keys and flow control allow it (PROTOCOL §9); record why
        not otherwise. Debounced and batched events join a pending run instead."""
        slug, flow = new.function_slug, new.flow
        if not self._reserve(db, slug, new.key, new.id, now, key_ttl):
            holder = db.execute(
                "SELECT run_id FROM run_keys WHERE function_slug = ? AND key = ?", (slug, new.key)
            ).fetchone()
            return self._skip(
                db,
                new,
                f"an event with the same id started run {holder[0] if holder else '?'} within 24h",
                now,
                fresh,
            )
        if not flow.gated:
            self._insert_run(db, new, new.due_at, now)
            return True
        if flow.idempotency is not None and not self._reserve(
            db, slug, f"idempotency:{flow.idempotency}", new.id, now, IDEMPOTENCY_TTL
        ):
            return self._skip(
                db, new, "idempotency key already used by another run within 24h", now, fresh
            )
        if flow.rate_limit is not None:
            rate = flow.rate_limit
            state = self._gate_state(db, slug, "rate_limit", rate.key)
            decision, tat = gates.rate_limit(state[0] if state else None, now, rate)
            if isinstance(decision, gates.Skip):
                return self._skip(db, new, decision.reason, now, fresh)
            self._set_gate_state(db, slug, "rate_limit", rate.key, tat=tat)
        if flow.batch is not None:
            return self._batch(db, new, flow.batch, now)
        if flow.debounce is not None:
            return self._debounce(db, new, flow.debounce, now, fresh)
        if flow.singleton is not None:
            active = db.execute(
                "SELECT id FROM runs WHERE function_slug = ? AND singleton_key = ? "
                "AND status IN ('QUEUED', 'RUNNING') LIMIT 1",
                (slug, flow.singleton),
            ).fetchone()
            if active is not None:
                if flow.singleton_mode != "cancel":
                    return self._skip(
                        db,
                        new,
                        f"singleton: run {active[0]} of the same key is still active",
                        now,
                        fresh,
                    )
                self._cancel_for_singleton(db, active[0], new.id, now, key_ttl)
        due = new.due_at
        if flow.throttle is not None:
            rate = flow.throttle
            state = self._gate_state(db, slug, "throttle", rate.key)
            decision, tat = gates.throttle(state[0] if state else None, now, rate)
            self._set_gate_state(db, slug, "throttle", rate.key, tat=tat)
            if isinstance(decision, gates.Delay):
                due = max(due, decision.until)
        self._insert_run(db, new, due, now)
        return True

    def _batch(self, db: Connection, new: NewRun, batch: Buffer, now: float) -> bool:
        slug = new.function_slug
        pending = self._pending(db, slug, "batch", batch.key)
        if pending is not None and pending[2] < batch.max_size:
            run_id, first_at, size = pending
            row = db.execute("SELECT event_ids FROM runs WHERE id = ?", (run_id,)).fetchone()
            events = [*orjson.loads(row[0]), *new.event_ids]
            db.execute("UPDATE runs SET event_ids = ? WHERE id = ?", (_dumps(events), run_id))
            db.executemany(
                "INSERT INTO event_runs (event_id, run_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                [(e, run_id) for e in new.event_ids],
            )
            size += len(new.event_ids)
            if size >= batch.max_size:
                # Full: start now, and the next event opens a new batch.
                self._reschedule_start(db, run_id, now)
                db.execute(
                    "DELETE FROM flow_state WHERE function_slug = ? AND gate = 'batch' AND key = ?",
                    (slug, batch.key),
                )
            else:
                self._set_gate_state(
                    db, slug, "batch", batch.key, run_id=run_id, first_at=first_at, size=size
                )
            return False
        full = batch.max_size <= len(new.event_ids)
        due = now if full else now + (batch.timeout or 0.0)
        self._insert_run(db, new, due, now)
        if not full:
            self._set_gate_state(
                db, slug, "batch", batch.key, run_id=new.id, first_at=now, size=len(new.event_ids)
            )
        return True

    def _debounce(
        self, db: Connection, new: NewRun, debounce: Buffer, now: float, fresh: set[str]
    ) -> bool:
        slug = new.function_slug
        due = now + debounce.period
        pending = self._pending(db, slug, "debounce", debounce.key)
        if pending is not None:
            run_id, first_at, _ = pending
            if debounce.timeout is not None:
                due = min(due, first_at + debounce.timeout)
            old = db.execute("SELECT event_ids FROM runs WHERE id = ?", (run_id,)).fetchone()
            for event_id in orjson.loads(old[0]):
                db.execute(
                    "DELETE FROM event_runs WHERE event_id = ? AND run_id = ?", (event_id, run_id)
                )
                db.execute(
                    "INSERT INTO skips (event_id, function_slug, reason, at) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    (
                        event_id,
                        slug,
                        f"debounced: run {run_id} will receive a later event instead",
                        now,
                    ),
                )
            db.execute(
                "UPDATE runs SET event_ids = ? WHERE id = ?", (_dumps(list(new.event_ids)), run_id)
            )
            db.executemany(
                "INSERT INTO event_runs (event_id, run_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                [(e, run_id) for e in new.event_ids],
            )
            self._reschedule_start(db, run_id, due)
            return False
        self._insert_run(db, new, due, now)
        self._set_gate_state(db, slug, "debounce", debounce.key, run_id=new.id, first_at=now)
        return True

    def _reschedule_start(self, db: Connection, run_id: str, due: float) -> None:
        priority = self._run_flow(db, run_id)[0]
        db.execute(
            "UPDATE queue SET due_at = ?, rank = ?, orank = ? WHERE run_id = ? AND kind = ? "
            "AND lease IS NULL AND parked IS NULL",
            (due, due - priority, due - priority, run_id, ItemKind.DISCOVERY.value),
        )

    def _cancel_for_singleton(
        self, db: Connection, run_id: str, by: str, now: float, key_ttl: float
    ) -> None:
        state = self._run_state(run_id, False)
        if state is not None:
            self._cancel(db, gates.replaced_singleton(state, by, now), now, key_ttl)

    def _insert_run(self, db: Connection, new: NewRun, due: float, now: float) -> None:
        flow = new.flow
        ckeys = _dumps([list(pair) for pair in flow.concurrency]) if flow.concurrency else None
        db.execute(
            "INSERT INTO runs (id, function_slug, event_ids, status, created_at, priority, "
            "ckeys, singleton_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                new.id,
                new.function_slug,
                _dumps(list(new.event_ids)),
                RunStatus.QUEUED.value,
                now,
                flow.priority,
                ckeys,
                flow.singleton,
            ),
        )
        if flow.priority < 0:
            self._note_delay(db, -flow.priority)
        db.executemany(
            "INSERT INTO event_runs (event_id, run_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
            [(e, new.id) for e in new.event_ids],
        )
        self._enqueue(
            db, new.id, NewItem(ItemKind.DISCOVERY, "step", due), now, (flow.priority, ckeys)
        )
        for timer in new.timers:
            self._enqueue(db, new.id, timer, now)
        for listener in new.listeners:
            self._insert_listener(db, listener)

    async def skips(self, event_id: str) -> list[Skip]:
        return await self._call(self._skips, event_id)

    def _skips(self, event_id: str) -> list[Skip]:
        rows = self._conn.execute(
            "SELECT function_slug, reason FROM skips WHERE event_id = ? ORDER BY function_slug",
            (event_id,),
        )
        return [Skip(event_id, r[0], r[1]) for r in rows]

    def _insert_listener(self, db: Connection, listener: Listener) -> None:
        self._noted_listener(listener.event)
        path, value = "", ""
        if listener.index:
            path, literal = listener.index[0]
            value = _dumps(index_value(literal)).decode()
        db.execute(
            f"INSERT INTO listeners ({_LISTENER_COLUMNS}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (
                listener.id,
                listener.run_id,
                listener.kind.value,
                listener.event,
                listener.expression,
                path,
                value,
                listener.step_id,
                listener.expires_at,
            ),
        )

    def _early_event(self, db: Connection, listener: Listener, since: float) -> Event | None:
        """An event the wait would have matched that arrived while the call that asked for
        the wait was in flight (Inngest loses it: inngest/inngest#1433)."""
        # received_at is this server's clock, like ``since``: the index reads only the
        # events that arrived during the call, usually none.
        rows = db.execute(
            "SELECT internal_id, body, received_at FROM events WHERE name = ? "
            "AND received_at >= ? ORDER BY received_at, internal_id",
            (listener.event, since),
        )
        condition = compile_expression(listener.expression) if listener.expression else None
        for row in rows:
            event = _event_from(*row)
            if condition is None or condition.matches({"async": event.to_wire()}):
                return event
        return None

    def _resolve_step(self, db: Connection, run_id: str, step_id: str) -> None:
        """A step that has its memo waits for nothing any more."""
        db.execute("DELETE FROM listeners WHERE run_id = ? AND step_id = ?", (run_id, step_id))
        db.execute(
            "DELETE FROM queue WHERE run_id = ? AND kind = ? AND step_id = ?",
            (run_id, ItemKind.TIMER.value, step_id),
        )

    def _resume(self, db: Connection, resume: Resume, now: float) -> bool:
        if not db.execute("DELETE FROM listeners WHERE id = ?", (resume.listener_id,)).rowcount:
            return False
        row = db.execute(
            "SELECT status, step_count FROM runs WHERE id = ?", (resume.run_id,)
        ).fetchone()
        if row is None or RunStatus(row[0]).ended:
            return False
        value = _dumps(resume.memo)
        cur = db.execute(
            "INSERT INTO memos (run_id, step_id, seq, value, name, op, recorded_at) "
            "VALUES (?, ?, ?, ?, '', 'Resume', ?) ON CONFLICT DO NOTHING",
            (resume.run_id, resume.step_id, row[1], value, now),
        )
        if not cur.rowcount:
            return False
        db.execute(
            "UPDATE runs SET step_count = step_count + 1, state_size = state_size + ? WHERE id = ?",
            (len(value), resume.run_id),
        )
        self._resolve_step(db, resume.run_id, resume.step_id)
        self._enqueue(
            db,
            resume.run_id,
            # Joins like a parallel branch: no discovery while another call is still due.
            NewItem(ItemKind.DISCOVERY, "step", now, after_join=True),
            now,
            self._run_flow(db, resume.run_id),
        )
        self._record_attempt(db, _resumed(resume, now))
        return True

    def _cancel(self, db: Connection, cancel: Cancellation, now: float, key_ttl: float) -> bool:
        row = db.execute("SELECT status FROM runs WHERE id = ?", (cancel.run_id,)).fetchone()
        if row is None or RunStatus(row[0]).ended:
            return False
        error = _dumps(cancel.error)
        db.execute(
            "UPDATE runs SET status = ?, ended_at = ?, output = ?, error = ? WHERE id = ?",
            (RunStatus.CANCELLED.value, now, error, error, cancel.run_id),
        )
        self._drop_run_items(db, cancel.run_id, now)
        self._record_attempt(
            db,
            Attempt(
                run_id=cancel.run_id,
                item_id="",
                step_id="",
                attempt=0,
                started_at=now,
                ended_at=now,
                outcome="cancelled",
                name="cancel",
                error=str(cancel.error.get("message") or cancel.error),
            ),
        )
        self._ingest(db, cancel.events, cancel.runs, now, key_ttl, cancel.resumes)
        return True

    async def find_listeners(self, events: Sequence[Event]) -> dict[str, list[Listener]]:
        # Most events (every run's inngest/function.finished, to begin with) have a name no
        # listener ever waited for: a backend that knows answers those without a trip to
        # the store thread.
        if not self._listened({event.name for event in events}):
            return {}
        return await self._call(self._find_listeners, list(events))

    def _find_listeners(self, events: list[Event]) -> dict[str, list[Listener]]:
        db = self._conn
        paths: dict[str, list[str]] = {}
        found: dict[str, list[Listener]] = {}
        for event in events:
            if event.name not in paths:
                paths[event.name] = [
                    r[0] for r in db.execute(_DISTINCT_PATHS, (event.name, event.name))
                ]
            if not paths[event.name]:
                continue
            wire = event.to_wire()
            rows: list[tuple[Any, ...]] = []
            for path in paths[event.name]:
                if path:
                    value = index_value(path_value(wire, path))
                    if value is None:
                        continue
                    key = _dumps(value).decode()
                else:
                    key = ""
                rows.extend(
                    db.execute(
                        f"SELECT {_LISTENER_COLUMNS} FROM listeners "
                        "WHERE event = ? AND index_path = ? AND index_value = ?",
                        (event.name, path, key),
                    )
                )
            if rows:
                found[event.internal_id] = [_listener_from(r) for r in rows]
        return found

    async def list_runs(
        self,
        function_slug: str | None,
        *,
        active: bool,
        created_after: float | None = None,
        created_before: float | None = None,
        limit: int = 1000,
    ) -> list[Run]:
        return await self._call(
            self._list_runs, function_slug, active, created_after, created_before, limit
        )

    def _list_runs(
        self,
        function_slug: str | None,
        active: bool,
        created_after: float | None,
        created_before: float | None,
        limit: int,
    ) -> list[Run]:
        where: list[str] = []
        args: list[Any] = []
        if function_slug is not None:
            where.append("function_slug = ?")
            args.append(function_slug)
        if active:
            where.append("status IN ('QUEUED', 'RUNNING')")
        if created_after is not None:
            where.append("created_at >= ?")
            args.append(created_after)
        if created_before is not None:
            where.append("created_at <= ?")
            args.append(created_before)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = self._conn.execute(
            f"SELECT {_RUN_COLUMNS} FROM runs {clause} ORDER BY id DESC LIMIT ?",
            (*args, limit),
        ).fetchall()
        return [_run_from(row) for row in rows]

    async def cron_cursors(self) -> dict[tuple[str, str], float]:
        return await self._call(self._cron_cursors)

    def _cron_cursors(self) -> dict[tuple[str, str], float]:
        rows = self._conn.execute("SELECT function_slug, expression, last_fire FROM cron_cursors")
        return {(r[0], r[1]): r[2] for r in rows}

    async def set_cron_cursor(self, function_slug: str, expression: str, last_fire: float) -> None:
        await self._write(self._set_cron_cursor, function_slug, expression, last_fire)

    def _set_cron_cursor(self, function_slug: str, expression: str, last_fire: float) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO cron_cursors (function_slug, expression, last_fire) VALUES (?, ?, ?) "
                "ON CONFLICT (function_slug, expression) DO UPDATE SET "
                "last_fire = CASE WHEN excluded.last_fire > cron_cursors.last_fire "
                "THEN excluded.last_fire ELSE cron_cursors.last_fire END",
                (function_slug, expression, last_fire),
            )

    async def get_event(self, internal_id: str) -> Event | None:
        return await self._call(self._get_event, internal_id)

    def _get_event(self, internal_id: str) -> Event | None:
        # Events never change once stored, and every call of a run needs its events:
        # keep the recent ones decoded (only the store thread touches this dict).
        cached = self._events.get(internal_id)
        if cached is not None:
            return cached
        row = self._conn.execute(
            "SELECT internal_id, body, received_at FROM events WHERE internal_id = ?",
            (internal_id,),
        ).fetchone()
        if row is None:
            return None
        event = _event_from(*row)
        if len(self._events) >= EVENT_CACHE_SIZE:
            # Reads of some backends run on several threads: evict without assuming the
            # oldest entry is still there.
            with contextlib.suppress(RuntimeError, StopIteration):
                self._events.pop(next(iter(self._events)), None)
        self._events[internal_id] = event
        return event

    async def list_events(self, name: str | None, limit: int) -> list[Event]:
        return await self._call(self._list_events, name, limit)

    def _list_events(self, name: str | None, limit: int) -> list[Event]:
        if name is None:
            rows = self._conn.execute(
                "SELECT internal_id, body, received_at FROM events "
                "ORDER BY internal_id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        else:
            rows = self._conn.execute(
                "SELECT internal_id, body, received_at FROM events WHERE name = ? "
                "ORDER BY internal_id DESC LIMIT ?",
                (name, limit),
            ).fetchall()
        return [_event_from(*row) for row in rows]

    async def get_run(self, run_id: str) -> Run | None:
        return await self._call(self._get_run, run_id)

    def _get_run(self, run_id: str) -> Run | None:
        row = self._conn.execute(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE id = ?", (run_id,)
        ).fetchone()
        return None if row is None else _run_from(row)

    async def runs_for_event(self, event_id: str) -> list[Run]:
        return await self._call(self._runs_for_event, event_id)

    def _runs_for_event(self, event_id: str) -> list[Run]:
        rows = self._conn.execute(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE id IN "
            "(SELECT run_id FROM event_runs WHERE event_id = ?) ORDER BY id",
            (event_id,),
        ).fetchall()
        return [_run_from(row) for row in rows]

    async def run_state(self, run_id: str) -> RunState | None:
        return await self._call(self._run_state, run_id)

    def _run_state(self, run_id: str, count_pending: bool = True) -> RunState | None:
        db = self._conn
        run = self._get_run(run_id)
        if run is None:
            return None
        events = []
        for event_id in run.event_ids:
            event = self._get_event(event_id)
            if event is not None:
                events.append(event)
        memos = tuple(
            StoredMemo(r[0], orjson.loads(r[1]), r[2], r[3], r[4], r[5])
            for r in db.execute(
                "SELECT step_id, value, name, op, seq, recorded_at FROM memos "
                "WHERE run_id = ? ORDER BY seq",
                (run_id,),
            )
        )
        pending = 0
        if count_pending:
            pending = db.execute(
                "SELECT count(*) FROM queue WHERE run_id = ?", (run_id,)
            ).fetchone()[0]
        return RunState(run=run, events=tuple(events), memos=memos, pending_items=pending)

    async def history(self, run_id: str) -> list[Attempt]:
        return await self._call(self._history, run_id)

    def _history(self, run_id: str) -> list[Attempt]:
        rows = self._conn.execute(
            "SELECT run_id, item_id, step_id, attempt, started_at, ended_at, outcome, "
            "status_code, name, output, error, op_step FROM attempts WHERE run_id = ? "
            "ORDER BY seq",
            (run_id,),
        ).fetchall()
        return [
            Attempt(
                run_id=r[0],
                item_id=r[1],
                step_id=r[2],
                attempt=r[3],
                started_at=r[4],
                ended_at=r[5],
                outcome=r[6],
                status_code=r[7],
                name=r[8],
                output=_loads(r[9]),
                error=r[10],
                op_step=r[11],
            )
            for r in rows
        ]

    # Queue

    async def claim(
        self, now: float, limit: int, lease_until: float, owner: str, *, timers: int = 0
    ) -> list[Claim]:
        return await self._write(self._claim, now, limit, lease_until, owner, timers)

    def _claim(
        self, now: float, limit: int, lease_until: float, owner: str, timers: int
    ) -> list[Claim]:
        with self._tx() as db:
            chosen: list[tuple[Any, ...]] = []
            if timers:
                # A timer's rank is its due time (priorities never move timers).
                # The kind is written out, not a parameter: a generic plan could not use
                # the partial index on timers otherwise.
                chosen = db.execute(
                    f"SELECT {_QUEUE_COLUMNS}, ckeys FROM queue WHERE kind = 'timer' "
                    f"AND due_at <= ? ORDER BY due_at, id LIMIT ?{self._CLAIM_LOCK}",
                    (now, timers),
                ).fetchall()
            if limit:
                # rank = due_at - priority: a due item has rank <= now + the largest delay any
                # priority asked for, which bounds the index scan.
                rows = db.execute(
                    f"SELECT {_QUEUE_COLUMNS}, ckeys FROM queue WHERE rank <= ? AND due_at <= ? "
                    f"ORDER BY rank, id LIMIT ?{self._CLAIM_LOCK}",
                    (now + self._horizon(db), now, limit * 2),
                ).fetchall()
                taken = {row[0] for row in chosen}
                rows = [row for row in rows if row[0] not in taken]
                admitted, parked = self._admit(db, rows, limit, now)
                for item_id, key in parked:
                    db.execute(
                        "UPDATE queue SET parked = ?, due_at = ?, rank = ? WHERE id = ?",
                        (key, PARKED, PARKED, item_id),
                    )
                chosen.extend(admitted)
            return [self._lease(db, row, now, lease_until, owner) for row in chosen]

    def _lease(
        self,
        db: Connection,
        row: tuple[Any, ...],
        now: float,
        lease_until: float,
        owner: str,
    ) -> Claim:
        lease = f"{owner}:{next(self._leases)}"
        db.execute(
            "UPDATE queue SET lease = ?, due_at = ?, rank = ? WHERE id = ?",
            (lease, lease_until, lease_until, row[0]),
        )
        if row[9] is not None:
            db.executemany(
                "INSERT INTO inflight (key, item_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                [(key, row[0]) for key, _ in orjson.loads(row[9])],
            )
        item = _item_from(row)
        state = self._run_state(item.run_id, False)
        if (
            state is not None
            and state.run.status is RunStatus.QUEUED
            and item.kind is not ItemKind.TIMER
        ):
            # The first call starting is what timeouts.start measures.
            db.execute(
                "UPDATE runs SET status = ?, started_at = ? WHERE id = ?",
                (RunStatus.RUNNING.value, now, item.run_id),
            )
            state = replace(state, run=replace(state.run, status=RunStatus.RUNNING, started_at=now))
        return Claim(item, lease, state)

    def _admit(
        self, db: Connection, rows: list[tuple[Any, ...]], limit: int, now: float
    ) -> tuple[list[tuple[Any, ...]], list[tuple[str, str]]]:
        """Which due rows may start now without exceeding a concurrency limit, and which
        must be parked on the key that is full."""
        keyed = {
            row[0]: tuple((k, n) for k, n in orjson.loads(row[9]))
            for row in rows
            if row[9] is not None
        }
        if not keyed:
            return rows[:limit], []
        keys = sorted({k for pairs in keyed.values() for k, _ in pairs})
        marks = ",".join("?" * len(keys))
        in_flight = dict(
            db.execute(
                f"SELECT i.key, count(*) FROM inflight i JOIN queue q ON q.id = i.item_id "
                f"WHERE i.key IN ({marks}) AND q.lease IS NOT NULL AND q.due_at > ? GROUP BY i.key",
                (*keys, now),
            ).fetchall()
        )
        candidates = [Candidate(row[0], keyed.get(row[0], ())) for row in rows]
        picked, parked = gates.admit(candidates, in_flight, limit)
        return [row for row in rows if row[0] in picked], list(parked.items())

    async def extend_leases(self, claims: Sequence[Claim], lease_until: float) -> None:
        await self._write(self._extend_leases, list(claims), lease_until)

    def _extend_leases(self, claims: list[Claim], lease_until: float) -> None:
        with self._tx() as db:
            db.executemany(
                "UPDATE queue SET due_at = ? WHERE id = ? AND lease = ?",
                [(lease_until, c.item.id, c.lease) for c in claims],
            )

    async def next_due(self) -> float | None:
        return await self._call(self._next_due)

    def _next_due(self) -> float | None:
        row = self._conn.execute("SELECT min(due_at) FROM queue").fetchone()
        return None if row[0] is None else float(row[0])

    async def complete(self, claim: Claim, outcome: Outcome, now: float, key_ttl: float) -> bool:
        return await self._write(self._complete, claim, outcome, now, key_ttl)

    def _complete(self, claim: Claim, outcome: Outcome, now: float, key_ttl: float) -> bool:
        item = claim.item
        with self._tx() as db:
            row = db.execute(
                "SELECT status, started_at, request_version, force_plan, step_count, state_size, "
                "priority, ckeys FROM runs WHERE id = ?",
                (item.run_id,),
            ).fetchone()
            priority = row[6] if row is not None else 0.0
            flow = (priority, row[7] if row is not None else None)
            # The write that consumes the item is also the lease check: no row, no lease.
            if outcome.retry_at is not None:
                rank = outcome.retry_at - (0.0 if item.kind is ItemKind.TIMER else priority)
                cur = db.execute(
                    "UPDATE queue SET due_at = ?, rank = ?, orank = ?, attempt = attempt + 1, "
                    "lease = NULL WHERE id = ? AND lease = ?",
                    (outcome.retry_at, rank, rank, item.id, claim.lease),
                )
            else:
                cur = db.execute(
                    "DELETE FROM queue WHERE id = ? AND lease = ?", (item.id, claim.lease)
                )
            if not cur.rowcount:
                return False
            if row is None or row[7] is not None:
                # Only the calls of runs with concurrency keys hold slots.
                self._release_inflight(db, [item.id], now)
            self._record_attempt(db, outcome.attempt)
            if row is None or RunStatus(row[0]).ended:
                db.execute("DELETE FROM queue WHERE id = ?", (item.id,))
                return True
            status, started_at = RunStatus(row[0]), row[1]
            version, force_plan, step_count, state_size = row[2], bool(row[3]), row[4], row[5]
            added = 0
            for memo in outcome.memos:
                cur = db.execute(
                    "INSERT INTO memos (run_id, step_id, seq, value, name, op, "
                    "recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    (
                        item.run_id,
                        memo.step_id,
                        step_count + added,
                        _dumps(memo.value),
                        memo.name,
                        memo.op,
                        now,
                    ),
                )
                added += cur.rowcount
                if memo.op not in _STEP_OPS:
                    self._resolve_step(db, item.run_id, memo.step_id)
            if status is RunStatus.QUEUED and item.kind is not ItemKind.TIMER:
                status, started_at = RunStatus.RUNNING, outcome.attempt.started_at
            if outcome.request_version is not None:
                version = outcome.request_version
            if outcome.force_plan is not None:
                force_plan = outcome.force_plan
            step_count += added
            if added:
                state_size += outcome.state_bytes
            finish = outcome.finish
            if finish is not None:
                self._drop_run_items(db, item.run_id, now)
                db.execute(
                    "UPDATE runs SET status = ?, started_at = ?, ended_at = ?, output = ?, "
                    "error = ?, request_version = ?, force_plan = ?, step_count = ?, "
                    "state_size = ? WHERE id = ?",
                    (
                        finish.status.value,
                        started_at,
                        now,
                        _dumps(finish.output),
                        None if finish.error is None else _dumps(finish.error),
                        version,
                        int(force_plan),
                        step_count,
                        state_size,
                        item.run_id,
                    ),
                )
            else:
                db.execute(
                    "UPDATE runs SET status = ?, started_at = ?, request_version = ?, "
                    "force_plan = ?, step_count = ?, state_size = ? WHERE id = ?",
                    (
                        status.value,
                        started_at,
                        version,
                        int(force_plan),
                        step_count,
                        state_size,
                        item.run_id,
                    ),
                )
                for new in outcome.enqueue:
                    self._enqueue(db, item.run_id, new, now, flow)
                for listener in outcome.listeners:
                    self._insert_listener(db, listener)
                    if listener.kind is ListenerKind.WAIT:
                        early = self._early_event(db, listener, outcome.attempt.started_at)
                        if early is not None:
                            self._resume(
                                db,
                                Resume(listener.id, item.run_id, listener.step_id, early.to_wire()),
                                now,
                            )
            if outcome.events or outcome.runs or outcome.resumes or outcome.cancels:
                self._ingest(
                    db, outcome.events, outcome.runs, now, key_ttl, outcome.resumes, outcome.cancels
                )
            return True

    def _record_attempt(self, db: Connection, a: Attempt) -> None:
        db.execute(
            "INSERT INTO attempts (run_id, item_id, step_id, attempt, started_at, ended_at, "
            "outcome, status_code, name, output, error, op_step) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                a.run_id,
                a.item_id,
                a.step_id,
                a.attempt,
                a.started_at,
                a.ended_at,
                a.outcome,
                a.status_code,
                a.name,
                None if a.output is None else _dumps(a.output),
                a.error,
                a.op_step,
            ),
        )

    def _enqueue(
        self,
        db: Connection,
        run_id: str,
        new: NewItem,
        now: float,
        flow: tuple[float, bytes | None] = (0.0, None),
    ) -> None:
        """Queue ``new`` for the run. ``flow`` is the run's (priority, concurrency keys):
        calls are ranked ``priority`` seconds sooner and count against the keys; timers
        neither."""
        if new.after_join and self._group_pending(db, run_id):
            return
        priority, ckeys = flow
        if new.kind is ItemKind.TIMER:
            priority, ckeys = 0.0, None
        rank = new.due_at - priority
        self._noted_due(new.due_at, now)
        db.execute(
            f"INSERT INTO queue ({_QUEUE_COLUMNS}, rank, orank, ckeys) "
            "VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (
                new_ulid(now),
                run_id,
                new.kind.value,
                new.step_id,
                new.due_at,
                int(new.join),
                new.name,
                None if new.payload is None else _dumps(new.payload),
                rank,
                rank,
                ckeys,
            ),
        )

    def _group_pending(self, db: Connection, run_id: str) -> bool:
        """Whether a branch of the run's parallel group is still out: a call to make, a
        sleep, a wait or an invoke (like Go's pending steps). Run timeouts and cancelOn
        listeners are not branches."""
        if db.execute(
            "SELECT 1 FROM queue WHERE run_id = ? AND (kind != ? OR step_id NOT LIKE 'timeout:%') "
            "LIMIT 1",
            (run_id, ItemKind.TIMER.value),
        ).fetchone():
            return True
        return (
            db.execute(
                "SELECT 1 FROM listeners WHERE run_id = ? AND kind != ? LIMIT 1",
                (run_id, ListenerKind.CANCEL.value),
            ).fetchone()
            is not None
        )

    def _run_flow(self, db: Connection, run_id: str) -> tuple[float, bytes | None]:
        row = db.execute("SELECT priority, ckeys FROM runs WHERE id = ?", (run_id,)).fetchone()
        return (0.0, None) if row is None else (row[0], row[1])

    def _release_inflight(self, db: Connection, item_ids: Sequence[str], now: float) -> None:
        """The calls ``item_ids`` are no longer in flight: free their keys' slots and let
        the oldest item parked on each key come due."""
        for item_id in item_ids:
            keys = [
                r[0]
                for r in db.execute(
                    "DELETE FROM inflight WHERE item_id = ? RETURNING key", (item_id,)
                )
            ]
            for key in keys:
                self._noted_due(now, now)
                db.execute(
                    "UPDATE queue SET parked = NULL, due_at = ?, rank = orank WHERE id IN "
                    "(SELECT id FROM queue WHERE parked = ? ORDER BY orank LIMIT 1)",
                    (now, key),
                )

    def _drop_run_items(self, db: Connection, run_id: str, now: float) -> None:
        """A run that ended holds no items, listeners or concurrency slots."""
        leased = [
            r[0]
            for r in db.execute(
                "SELECT id FROM queue WHERE run_id = ? AND lease IS NOT NULL", (run_id,)
            )
        ]
        self._release_inflight(db, leased, now)
        db.execute("DELETE FROM queue WHERE run_id = ?", (run_id,))
        db.execute("DELETE FROM listeners WHERE run_id = ?", (run_id,))

    async def release_all(self) -> int:
        return await self._write(self._release_all)

    def _release_all(self) -> int:
        with self._tx() as db:
            # A lease's due_at is its expiry; an item released at start-up is due now.
            # Parked items are looked at again too: the slots they waited for are free now.
            db.execute("DELETE FROM inflight")
            cur = db.execute(
                "UPDATE queue SET lease = NULL, parked = NULL, due_at = 0, rank = orank "
                "WHERE lease IS NOT NULL OR parked IS NOT NULL"
            )
            return cur.rowcount
