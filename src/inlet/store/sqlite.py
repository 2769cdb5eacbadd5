"""The embedded SQLite backend (WAL).

One connection for reads and writes, used from the store thread. Every write is one
``BEGIN IMMEDIATE`` transaction, so a SIGKILL leaves either all of a call's outcome or none
of it. ``synchronous=NORMAL`` in WAL mode survives a killed process (only an OS crash can
lose the last commits) at ~60k commits/s instead of ~5k; the WAL's checkpoints run on a
thread of their own (``checkpointer``). One process owns the file (a lock file says so),
which lets this backend keep a few facts in memory that a shared database could not (which
event names have listeners, how far priorities delay items).
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

from inlet.errors import DatabaseLocked, SchemaMismatch
from inlet.store.checkpointer import BACKSTOP_PAGES, Checkpointer
from inlet.store.relational import Connection, RelationalStore, migrations, statements
from inlet.store.writer import Session

log = logging.getLogger("inlet.store")

INCREMENTAL = 2
"""``PRAGMA auto_vacuum``'s value for INCREMENTAL."""
RECLAIM_PAGES = 8192
"""At most this many free pages (32 MiB of 4 KiB pages) go back after one batch."""


class _Transactions:
    def __init__(self, db: sqlite3.Connection, committed: Callable[[], None]) -> None:
        self._db = db
        self._committed = committed

    def ready(self) -> None:
        pass

    def begin(self, runs: Sequence[str]) -> None:
        # One writer at a time (IMMEDIATE takes the file's write lock): no row locks needed.
        self._db.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        self._db.execute("COMMIT")
        self._committed()

    def rollback(self) -> None:
        self._db.execute("ROLLBACK")

    def retriable(self, exc: BaseException) -> bool:
        return False

    @property
    def pipelined(self) -> bool:
        return False


class SQLiteStore(RelationalStore):
    name = "SQLite"
    _errors = (sqlite3.Error,)

    def __init__(self, path: str) -> None:
        super().__init__()
        self._path = path
        self._sqlite: sqlite3.Connection | None = None
        self._lock_fd: int | None = None
        self._checkpointer: Checkpointer | None = None
        self._max_delay = 0.0
        """The largest delay a negative priority gave any queued item (bounds claims)."""
        self._listened_names: set[str] = set()
        """Names of events some listener has waited for since the file was opened."""

    def _connect(self) -> tuple[Connection, Session]:
        path = Path(self._path).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        # One process per file: the queue's leases assume nobody else is claiming.
        fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise DatabaseLocked(
                f"database {path} is in use by another inlet process; stop it, or pass a "
                "different --database-url (several processes need PostgreSQL)"
            ) from None
        self._lock_fd = fd
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._incremental(db)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA busy_timeout=5000")
        db.execute("PRAGMA foreign_keys=OFF")
        self._migrate(db)
        # Items of runs with a negative priority rank later than they are due; the claim's
        # index scan must reach that far to stay work-conserving after a restart too.
        row = db.execute(
            "SELECT max(-priority) FROM runs WHERE priority < 0 AND status IN ('QUEUED', 'RUNNING')"
        ).fetchone()
        self._max_delay = float(row[0] or 0.0)
        self._listened_names = {r[0] for r in db.execute("SELECT DISTINCT event FROM listeners")}
        self._sqlite = db
        # The WAL's pages go into the file on a thread of their own (checkpointer.py).
        db.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")
        self._checkpointer = Checkpointer(path)
        self._checkpointer.start()
        return db, _Transactions(db, self._checkpointer.nudge)

    def _incremental(self, db: sqlite3.Connection) -> None:
        # Retention frees pages a batch at a time; in INCREMENTAL mode ``_reclaim`` gives
        # them back to the file system. A new file takes the mode before anything is
        # written to it (even the WAL switch); an older file needs one VACUUM, which
        # rewrites it, outside any transaction.
        if db.execute("PRAGMA auto_vacuum").fetchone()[0] == INCREMENTAL:
            return
        db.execute("PRAGMA auto_vacuum=INCREMENTAL")
        if db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
            log.info("store.vacuum", extra={"database": self._path, "reason": "auto_vacuum"})
            db.execute("VACUUM")

    def _reclaim(self) -> None:
        # One page per step: the sqlite3 module steps a PRAGMA once, and each step of
        # incremental_vacuum frees one page (~20 us each).
        db = self._conn
        free = db.execute("PRAGMA freelist_count").fetchone()[0]
        for _ in range(min(free, RECLAIM_PAGES)):
            db.execute("PRAGMA incremental_vacuum(1)")

    def _migrate(self, db: sqlite3.Connection) -> None:
        db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = db.execute("SELECT max(version) FROM schema_version").fetchone()
        current = row[0] or 0
        known = migrations("sqlite")
        latest = known[-1][0]
        if current > latest:
            raise SchemaMismatch(
                f"database {self._path} has schema version {current}, newer than this inlet "
                f"({latest}); upgrade inlet or use another database"
            )
        for version, sql in known:
            if version > current:
                db.execute("BEGIN IMMEDIATE")
                try:
                    for statement in statements(sql):
                        db.execute(statement)
                    db.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
                    db.execute("COMMIT")
                except BaseException:
                    db.execute("ROLLBACK")
                    raise

    def _disconnect(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        if self._sqlite is not None:
            self._sqlite.close()
            self._sqlite = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def horizon(self, db: Connection) -> float:
        return self._max_delay

    def note_delay(self, db: Connection, delay: float) -> None:
        self._max_delay = max(self._max_delay, delay)

    def _listened(self, names: set[str]) -> bool:
        # One process owns the file, so this set is complete.
        return not names.isdisjoint(self._listened_names)

    def noted_listener(self, event: str) -> None:
        self._listened_names.add(event)
