"""The SQLite store's WAL checkpoints, on a thread of their own.

In WAL mode a commit appends pages to the ``-wal`` file; a checkpoint copies them into the
database file and, with ``synchronous=NORMAL``, syncs both files to disk. SQLite runs one
inside whichever commit takes the WAL past ``wal_autocheckpoint`` pages, so the store
thread, every write's only thread, stood still for the copy and the two syncs: under
W4's batches about a seventh of its time. Here a thread with its own connection runs a
PASSIVE checkpoint soon after commits (it waits for no reader or writer, and the store
thread's commits go on meanwhile), and the store's own connection keeps
``wal_autocheckpoint`` only as a backstop at :data:`BACKSTOP_PAGES`: its checkpoint then
finds most pages copied already, and it is what lets the WAL start again from its
beginning while commits never pause (SQLite restarts the WAL only after a checkpoint that
copied every frame, which a checkpoint racing the commits rarely does).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

log = logging.getLogger("inlet.store")

BACKSTOP_PAGES = 4000
"""The store connection's ``wal_autocheckpoint`` (16 MiB of 4 KiB pages): the most the WAL
grows to under constant writes."""
PAUSE = 0.05
"""Seconds between two checkpoints at most one of which follows a given commit: the
commits of that time are copied together."""


class Checkpointer:
    """Checkpoints the WAL of the database at ``path`` after commits (:meth:`nudge`), on
    its own thread and connection, until :meth:`stop`."""

    def __init__(self, path: Path, pause: float = PAUSE) -> None:
        self._path = path
        self._pause = pause
        self._wanted = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="inlet-checkpoint", daemon=True)
        self.passes = 0
        """Checkpoints run so far."""
        self.last: tuple[int, int, int] | None = None
        """The last checkpoint's answer: (1 if it could not run, frames in the WAL, frames
        copied into the file)."""

    def start(self) -> None:
        self._thread.start()

    def nudge(self) -> None:
        """Something was committed: checkpoint soon. Cheap enough for every commit."""
        if not self._wanted.is_set():
            self._wanted.set()

    def stop(self) -> None:
        """Stop after the checkpoint under way, if any (the store's connection, closed
        after this, checkpoints what is left)."""
        self._stopping.set()
        self._wanted.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        db = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        try:
            while True:
                self._wanted.wait()
                if self._stopping.is_set():
                    return
                self._wanted.clear()
                self._checkpoint(db)
                if self._stopping.wait(self._pause):
                    return
        finally:
            db.close()

    def _checkpoint(self, db: sqlite3.Connection) -> None:
        try:
            db.execute("PRAGMA synchronous=NORMAL")  # what the store's connection syncs
            self.last = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.Error as exc:  # the backstop still checkpoints: log and go on
            log.warning("store.checkpoint_failed", extra={"error": str(exc)})
        self.passes += 1
