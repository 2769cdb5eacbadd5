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
import itertools
import queue
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from importlib import resources
from typing import Any, TypeVar

import orjson

from inlet.errors import StoreError
from inlet.metrics import Tally
from inlet.model import (
    App,
    Cancellation,
    Event,
    Function,
    NewRun,
    Outcome,
    Resume,
    SkipSet,
)
from inlet.steps.checkpoint import Checkpoint, StateLimits, Verdict
from inlet.steps.endpoint import Report
from inlet.store.base import CallEnd, Claim, Completed, IngestResult, Next, Store
from inlet.store.completion import Completion
from inlet.store.engine import apply
from inlet.store.engine import checkpoint as engine_checkpoint
from inlet.store.engine import endpoint as engine_endpoint
from inlet.store.engine import queue as engine_queue
from inlet.store.sql import queries
from inlet.store.sql.alerts import SqlAlerts
from inlet.store.sql.metadata import SqlMetadata
from inlet.store.sql.operations import SqlOperations
from inlet.store.sql.reads import SqlReads
from inlet.store.sql.retention import SqlRetention
from inlet.store.sql.rows import dumps, event_from
from inlet.store.sql.tx import Alone, Connection, Cursor, SqlTx
from inlet.store.sql.waiting import SqlWaiting
from inlet.store.tokens import ApiToken, role
from inlet.store.users import LoginSession, User
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


class RelationalStore(
    SqlAlerts, SqlMetadata, SqlRetention, SqlOperations, SqlWaiting, SqlReads, Store
):
    """The domain verbs in SQL; subclasses connect and bound the transactions."""

    name = "SQL"
    dialect = "sqlite"

    def __init__(self) -> None:
        self._writer: Writer | None = None
        self._db: Connection | None = None
        self._leases = itertools.count(1)
        self._q: Mapping[str, str] = queries.load(self.dialect)
        self._events: OrderedDict[str, Event] = OrderedDict()
        """Recently read events, decoded (they never change once stored); oldest first."""

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

    def noted_listener(self, event: str) -> None:
        """A listener for ``event`` was stored."""

    def noted_due(self, due: float, now: float) -> None:
        """An item due at ``due`` was queued or unparked (other processes may want to know)."""

    def _noted_functions(self) -> None:
        """An app's functions were stored."""

    def lock_keys(self, db: Connection, names: Sequence[str]) -> None:
        """Hold the named keys until the transaction ends: nothing to do where one
        process writes at a time (SQLite's single writer)."""

    def locked_run(self, run_id: str) -> tuple[Any, ...] | None:
        """The run's row as locked when its transaction began (then forgotten); or None."""
        return None

    def forget_runs(self, run_ids: Sequence[str] | None = None) -> None:
        """The runs (every run with None) may have changed since their rows were locked."""

    def id_list(self, ids: Sequence[str]) -> Any:
        return orjson.dumps(list(ids)).decode()  # json_each's one parameter

    def write_rows(self, db: Connection, sql: str, rows: list[tuple[Any, ...]]) -> None:
        if rows:
            db.executemany(sql, rows)

    def gather(self, sql: str, row: tuple[Any, ...], alone: Alone) -> Callable[[], Any]:
        raise StoreError(f"the {self.name} store gathers no statement")  # none of its dialect

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

    async def _write_queue(self, fn: Callable[..., T], *args: Any) -> T:
        """A write that changes runs' rows only through ``SqlTx`` (which forgets each one
        it changes), as a claim: its batch keeps the rows locked when it began."""
        return await self._submit(fn, args, write=True, keeps_rows=True)

    async def _write_runs(self, runs: Sequence[str], fn: Callable[..., T], *args: Any) -> T:
        """A write that changes ``runs``: their rows are locked when its transaction begins
        (on a shared database; with every other run of the batch, in one order)."""
        return await self._submit(fn, args, write=True, runs=tuple(runs))

    async def _submit(
        self,
        fn: Callable[..., T],
        args: tuple[Any, ...],
        *,
        write: bool,
        runs: tuple[str, ...] = (),
        keeps_rows: bool = False,
    ) -> T:
        if self._writer is None:
            raise StoreError(f"the {self.name} store is not open")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        if write and not runs and not keeps_rows:
            # It may change any run: none locked before it is current.
            fn, args = self._changing_any, (fn, args)
        self._writer.jobs.put((fn, args, future, write, runs))
        try:
            return await future
        except self._errors as exc:
            raise StoreError(f"{self.name} error: {exc}") from exc

    def _changing_any(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        self.forget_runs()
        return fn(*args)

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
        # Every call of a run needs its events. Only the store thread fills the cache, so
        # it needs no lock; a shared backend's reads on pool threads look in it too.
        owner = threading.current_thread() is self._writer
        cached = self._events.get(internal_id)
        if cached is not None:
            return cached
        row = db.execute(self._q["event"], (internal_id,)).fetchone()
        if row is None:
            return None
        event = event_from(*row)
        if owner:
            self._keep_events([event])
        return event

    def _keep_events(self, events: Sequence[Event]) -> None:
        """Into the cache (on the store thread: the only one that fills it)."""
        for event in events:
            if len(self._events) >= EVENT_CACHE_SIZE:
                self._events.popitem(last=False)
            self._events[event.internal_id] = event

    # Writes: the engine in one transaction of the store thread

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
        batch = apply.Batch(list(events), list(runs), list(resumes), list(cancels), list(skips))
        changed = [r.run_id for r in resumes] + [c.run_id for c in cancels]
        result, tally = await self._write_runs(changed, self._ingest, batch, now, key_ttl, then)
        self._counted(tally)
        if result.new_event_ids and self._writer is not None:
            # Committed: the claims of the runs they start find the new events cached (on
            # PostgreSQL a round trip each otherwise). A job of its own, not awaited: the
            # store thread takes it before any later job.
            fresh = set(result.new_event_ids)
            kept = [event for event in events if event.internal_id in fresh]
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._writer.jobs.put((self._keep_events, (kept,), done, False, ()))
        return result

    def _ingest(
        self, batch: apply.Batch, now: float, key_ttl: float, then: Next | None
    ) -> tuple[IngestResult, Tally]:
        # The tally comes back with the result: only a write that committed is counted.
        tx = self._tx()
        if batch.runs:
            self.ask_paused_ahead(tx)
        return apply.ingest(tx, batch, now, key_ttl, then, self._leases), tx.tally

    def ask_paused_ahead(self, tx: SqlTx) -> None:
        """An ingest that starts runs will ask which functions are paused: a backend that
        pipelines its statements sends the question now (``SqlTx.paused``)."""

    async def revive(self, run_id: str, now: float) -> bool:
        return await self._write_runs((run_id,), self._revive, run_id, now)

    def _revive(self, run_id: str, now: float) -> bool:
        return apply.revive(self._tx(), run_id, now)

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
        claims, tally = await self._write_queue(
            self._claim, now, limit, lease_until, owner, timers, timers_ahead
        )
        self._counted(tally)
        return claims

    def _claim(
        self, now: float, limit: int, lease_until: float, owner: str, timers: int, ahead: float
    ) -> tuple[list[Claim], Tally]:
        def lease() -> str:
            return f"{owner}:{next(self._leases)}"

        tx = self._claim_tx(now, limit)
        return engine_queue.claim(tx, now, limit, lease_until, lease, timers, ahead), tx.tally

    def _claim_tx(self, now: float, limit: int) -> SqlTx:
        """The transaction port of a claim at ``now`` of up to ``limit`` calls."""
        return self._tx()

    async def complete_call(
        self, claim: Claim, outcome: Outcome, now: float, key_ttl: float, end: CallEnd
    ) -> Completed:
        job = Completion(self._tx, self._leases, claim, outcome, now, key_ttl, end)
        done, tally = await self._write_runs((claim.item.run_id,), job)
        self._counted(tally)
        return done.settled()

    async def checkpoint(self, cp: Checkpoint, limits: StateLimits, now: float) -> Verdict:
        return await self._write_runs(
            (cp.run_id,), lambda: engine_checkpoint.checkpoint(self._tx(), cp, limits, now)
        )

    async def record_endpoint(
        self, run_id: str, report: Report, limits: StateLimits, now: float
    ) -> Verdict:
        verdict, tally = await self._write_runs(
            (run_id,), self._record_endpoint, run_id, report, limits, now
        )
        self._counted(tally)
        return verdict

    def _record_endpoint(
        self, run_id: str, report: Report, limits: StateLimits, now: float
    ) -> tuple[Verdict, Tally]:
        tx = self._tx()
        return engine_endpoint.record(tx, run_id, report, limits, now), tx.tally

    async def extend_leases(self, claims: Sequence[Claim], lease_until: float) -> None:
        await self._write_queue(self._extend_leases, list(claims), lease_until)

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
        # Two processes syncing one app at once would each delete the other's functions.
        self.lock_keys(self._conn, [f"app:{app.url}"])
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
        await self._write(self._x, "set_app_error", (url, error, now if error else None))

    async def set_cron_cursor(self, function_slug: str, expression: str, last_fire: float) -> None:
        await self._write(self._x, "set_cron_cursor", (function_slug, expression, last_fire))

    # API tokens

    async def create_token(self, token: ApiToken) -> None:
        args = (token.id, token.name, token.role, token.hash, token.created_at)
        await self._write(self._x, "insert_token", args)

    async def token_by_hash(self, token_hash: str) -> ApiToken | None:
        rows = await self._call(self._tokens, "token_by_hash", (token_hash,))
        return rows[0] if rows else None

    async def list_tokens(self) -> list[ApiToken]:
        return await self._call(self._tokens, "list_tokens", ())

    def _tokens(self, name: str, args: tuple[Any, ...]) -> list[ApiToken]:
        return [
            ApiToken(id_, label, role(kind), digest, created, used, revoked)
            for id_, label, kind, digest, created, used, revoked in self._x(name, args).fetchall()
        ]

    async def revoke_token(self, token_id: str, now: float) -> bool:
        return await self._write(self._revoke_token, token_id, now)

    def _revoke_token(self, token_id: str, now: float) -> bool:
        revoked = self._x("revoke_token", (now, token_id)).rowcount > 0
        if revoked:  # the dashboard sessions it opened end with it, in the same transaction
            self._x("delete_subject_sessions", (f"token:{token_id}",))
        return revoked

    async def touch_token(self, token_id: str, now: float) -> None:
        await self._write(self._x, "touch_token", (now, token_id, now))

    # Dashboard users and sessions

    async def create_user(self, user: User) -> None:
        args = (user.id, user.name, user.role, user.password, user.created_at)
        await self._write(self._x, "insert_user", args)

    async def user_by_name(self, name: str) -> User | None:
        rows = await self._call(self._users, "user_by_name", (name,))
        return rows[0] if rows else None

    async def list_users(self) -> list[User]:
        return await self._call(self._users, "list_users", ())

    def _users(self, name: str, args: tuple[Any, ...]) -> list[User]:
        rows = self._x(name, args).fetchall()
        return [User(id_, login, role(kind), pw, at) for id_, login, kind, pw, at in rows]

    async def remove_user(self, name: str) -> bool:
        return await self._write(self._remove_user, name)

    def _remove_user(self, name: str) -> bool:
        found = self._users("user_by_name", (name,))
        if not found:
            return False
        self._x("delete_subject_sessions", (f"user:{found[0].id}",))
        return self._x("delete_user", (found[0].id,)).rowcount > 0

    async def create_session(self, session: LoginSession) -> None:
        s = session
        args = (s.hash, s.subject, s.label, s.role, s.created_at, s.expires_at)
        await self._write(self._x, "insert_session", args)

    async def session_by_hash(self, session_hash: str, now: float) -> LoginSession | None:
        return await self._call(self._session, session_hash, now)

    def _session(self, session_hash: str, now: float) -> LoginSession | None:
        row = self._x("session_by_hash", (session_hash, now)).fetchone()
        if row is None:
            return None
        digest, subject, label, kind, created, expires = row
        return LoginSession(digest, subject, label, role(kind), created, expires)

    async def extend_session(self, session_hash: str, expires_at: float) -> None:
        await self._write(self._x, "extend_session", (expires_at, session_hash, expires_at))

    async def end_session(self, session_hash: str) -> None:
        await self._write(self._x, "delete_session", (session_hash,))

    async def end_expired_sessions(self, now: float) -> int:
        return await self._write(self._end_expired, now)

    def _end_expired(self, now: float) -> int:
        return self._x("delete_expired_sessions", (now,)).rowcount
