"""The store shared by the SQL backends (SQLite, PostgreSQL): the engine over ``SqlTx``.

Every statement runs on one dedicated thread per process (``writer.Writer``): the drivers
block, the event loop must not. Writes arrive as jobs that the thread groups into one
transaction (group commit). The rules are the engine's (``inlet.store.engine``), the
statements are named (``sql/queries.sql``); a backend supplies the connection, the
transaction boundaries and the few things that differ (claim locking, caches that are
only sound when one process owns the database).
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import itertools
import queue
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from importlib import resources
from typing import Any, TypeVar

import orjson

from inlet.errors import StoreError
from inlet.expr import index_value, path_value
from inlet.model import (
    App,
    Attempt,
    Cancellation,
    Event,
    Function,
    Listener,
    NewRun,
    Outcome,
    Resume,
    Run,
    RunState,
    Skip,
    Trigger,
)
from inlet.store.base import Claim, IngestResult, Store
from inlet.store.engine import apply
from inlet.store.engine import queue as engine_queue
from inlet.store.sql import queries
from inlet.store.sql.rows import dumps, event_from, listener_from, loads, run_from
from inlet.store.sql.tx import Connection, Cursor, SqlTx
from inlet.store.writer import Session, Writer

__all__ = ["Connection", "Cursor", "RelationalStore", "T", "migrations", "statements"]

T = TypeVar("T")

EVENT_CACHE_SIZE = 10_000


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


class RelationalStore(Store):
    """The domain verbs in SQL; subclasses connect and bound the transactions."""

    name = "SQL"
    dialect = "sqlite"

    def __init__(self) -> None:
        self._writer: Writer | None = None
        self._db: Connection | None = None
        self._leases = itertools.count(1)
        self._q: Mapping[str, str] = queries.load(self.dialect)
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
    def horizon(self, db: Connection) -> float:
        """The largest delay a negative priority gave any queued item: how far past
        ``now`` the claim's scan by rank must reach."""

    @abc.abstractmethod
    def note_delay(self, db: Connection, delay: float) -> None:
        """A run was queued ``delay`` seconds later than due (a negative priority)."""

    def _listened(self, names: set[str]) -> bool:
        """Whether some listener may wait for one of ``names`` (True when unsure)."""
        return True

    def noted_listener(self, event: str) -> None:
        """A listener for ``event`` was stored."""

    def noted_due(self, due: float, now: float) -> None:
        """An item due at ``due`` was queued or unparked (other processes may want to know)."""

    def _noted_functions(self) -> None:
        """An app's functions were stored."""

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

    def _tx(self) -> SqlTx:
        """The engine's port on the connection, inside the store thread's transaction."""
        return SqlTx(self._conn, self._q, self)

    def _x(self, name: str, args: Sequence[Any] = ()) -> Cursor:
        return self._conn.execute(self._q[name], args)

    def cached_event(self, db: Connection, internal_id: str) -> Event | None:
        # Events never change once stored, and every call of a run needs its events.
        cached = self._events.get(internal_id)
        if cached is not None:
            return cached
        row = db.execute(self._q["event"], (internal_id,)).fetchone()
        if row is None:
            return None
        event = event_from(*row)
        if len(self._events) >= EVENT_CACHE_SIZE:
            # Reads of some backends run on several threads: evict without assuming the
            # oldest entry is still there.
            with contextlib.suppress(RuntimeError, StopIteration):
                self._events.pop(next(iter(self._events)), None)
        self._events[internal_id] = event
        return event

    # Writes: the engine in one transaction of the store thread

    async def ingest(
        self,
        events: Sequence[Event],
        runs: Sequence[NewRun],
        now: float,
        key_ttl: float,
        resumes: Sequence[Resume] = (),
        cancels: Sequence[Cancellation] = (),
    ) -> IngestResult:
        batch = apply.Batch(list(events), list(runs), list(resumes), list(cancels))
        return await self._write(self._ingest, batch, now, key_ttl)

    def _ingest(self, batch: apply.Batch, now: float, key_ttl: float) -> IngestResult:
        return apply.ingest(self._tx(), batch, now, key_ttl)

    async def claim(
        self, now: float, limit: int, lease_until: float, owner: str, *, timers: int = 0
    ) -> list[Claim]:
        return await self._write(self._claim, now, limit, lease_until, owner, timers)

    def _claim(
        self, now: float, limit: int, lease_until: float, owner: str, timers: int
    ) -> list[Claim]:
        def lease() -> str:
            return f"{owner}:{next(self._leases)}"

        return engine_queue.claim(self._tx(), now, limit, lease_until, lease, timers)

    async def complete(self, claim: Claim, outcome: Outcome, now: float, key_ttl: float) -> bool:
        return await self._write(self._complete, claim, outcome, now, key_ttl)

    def _complete(self, claim: Claim, outcome: Outcome, now: float, key_ttl: float) -> bool:
        return apply.complete(self._tx(), claim, outcome, now, key_ttl)

    async def extend_leases(self, claims: Sequence[Claim], lease_until: float) -> None:
        await self._write(self._extend_leases, list(claims), lease_until)

    def _extend_leases(self, claims: list[Claim], lease_until: float) -> None:
        args = [(lease_until, c.item.id, c.lease) for c in claims]
        self._conn.executemany(self._q["extend_lease"], args)

    async def release_all(self) -> int:
        return await self._write(self._release_all)

    def _release_all(self) -> int:
        self._x("release_all_slots")
        return self._x("release_all").rowcount

    async def save_app(self, app: App, functions: Sequence[Function]) -> bool:
        return await self._write(self._save_app, app, list(functions))

    def _save_app(self, app: App, functions: list[Function]) -> bool:
        row = self._x("save_app_checksum", (app.url,)).fetchone()
        self._x(
            "save_app",
            (app.url, app.app_id, app.sdk, app.framework, app.checksum, app.synced_at, app.error),
        )
        self._x("save_app_functions_clear", (app.url,))
        self._conn.executemany(
            self._q["save_app_function"],
            [
                (
                    f.slug,
                    f.app_url,
                    f.name,
                    f.url,
                    dumps([[t.event, t.expression, t.cron, t.jitter] for t in f.triggers]),
                    f.retries,
                    dumps(f.config),
                )
                for f in functions
            ],
        )
        self._noted_functions()
        return row is None or row[0] != app.checksum

    async def set_app_error(self, url: str, error: str | None, now: float) -> None:
        await self._write(self._x, "set_app_error", (url, error))

    async def set_cron_cursor(self, function_slug: str, expression: str, last_fire: float) -> None:
        await self._write(self._x, "set_cron_cursor", (function_slug, expression, last_fire))

    # Reads

    async def list_apps(self) -> list[App]:
        return await self._call(self._list_apps)

    def _list_apps(self) -> list[App]:
        return [App(*row) for row in self._x("list_apps").fetchall()]

    async def list_functions(self) -> list[Function]:
        return await self._call(self._list_functions)

    def _list_functions(self) -> list[Function]:
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
            for r in self._x("list_functions").fetchall()
        ]

    async def skips(self, event_id: str) -> list[Skip]:
        return await self._call(self._skips, event_id)

    def _skips(self, event_id: str) -> list[Skip]:
        return [Skip(event_id, r[0], r[1]) for r in self._x("skips", (event_id,))]

    async def find_listeners(self, events: Sequence[Event]) -> dict[str, list[Listener]]:
        # Most events (every run's inngest/function.finished, to begin with) have a name no
        # listener ever waited for: a backend that knows answers those without a trip to
        # the store thread.
        if not self._listened({event.name for event in events}):
            return {}
        return await self._call(self._find_listeners, list(events))

    def _find_listeners(self, events: list[Event]) -> dict[str, list[Listener]]:
        paths: dict[str, list[str]] = {}
        found: dict[str, list[Listener]] = {}
        for event in events:
            if event.name not in paths:
                rows = self._x("distinct_paths", (event.name, event.name))
                paths[event.name] = [r[0] for r in rows]
            if not paths[event.name]:
                continue
            wire = event.to_wire()
            hits: list[tuple[Any, ...]] = []
            for path in paths[event.name]:
                key = ""
                if path:
                    value = index_value(path_value(wire, path))
                    if value is None:
                        continue
                    key = dumps(value).decode()
                hits.extend(self._x("listeners_at", (event.name, path, key)))
            if hits:
                found[event.internal_id] = [listener_from(r) for r in hits]
        return found

    async def cron_cursors(self) -> dict[tuple[str, str], float]:
        return await self._call(self._cron_cursors)

    def _cron_cursors(self) -> dict[tuple[str, str], float]:
        return {(r[0], r[1]): r[2] for r in self._x("cron_cursors")}

    async def get_event(self, internal_id: str) -> Event | None:
        return await self._call(self._get_event, internal_id)

    def _get_event(self, internal_id: str) -> Event | None:
        return self.cached_event(self._conn, internal_id)

    async def list_events(self, name: str | None, limit: int) -> list[Event]:
        return await self._call(self._list_events, name, limit)

    def _list_events(self, name: str | None, limit: int) -> list[Event]:
        if name is None:
            rows = self._x("list_events", (limit,)).fetchall()
        else:
            rows = self._x("list_events_named", (name, limit)).fetchall()
        return [event_from(*row) for row in rows]

    async def get_run(self, run_id: str) -> Run | None:
        return await self._call(self._get_run, run_id)

    def _get_run(self, run_id: str) -> Run | None:
        row = self._x("run_row", (run_id,)).fetchone()
        return None if row is None else run_from(row)

    async def runs_for_event(self, event_id: str) -> list[Run]:
        return await self._call(self._runs_for_event, event_id)

    def _runs_for_event(self, event_id: str) -> list[Run]:
        return [run_from(row) for row in self._x("runs_for_event", (event_id,)).fetchall()]

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
        sql = self._q["list_runs"].replace("{where}", clause)
        rows = self._conn.execute(sql, (*args, limit)).fetchall()
        return [run_from(row) for row in rows]

    async def run_state(self, run_id: str) -> RunState | None:
        return await self._call(self._run_state, run_id)

    def _run_state(self, run_id: str) -> RunState | None:
        state = engine_queue.run_state(self._tx(), run_id)
        if state is None:
            return None
        pending = self._x("pending_count", (run_id,)).fetchone()[0]
        return replace(state, pending_items=pending)

    async def history(self, run_id: str) -> list[Attempt]:
        return await self._call(self._history, run_id)

    def _history(self, run_id: str) -> list[Attempt]:
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
                output=loads(r[9]),
                error=r[10],
                op_step=r[11],
            )
            for r in self._x("history", (run_id,)).fetchall()
        ]

    async def next_due(self) -> float | None:
        return await self._call(self._next_due)

    def _next_due(self) -> float | None:
        row = self._x("next_due").fetchone()
        return None if row[0] is None else float(row[0])
