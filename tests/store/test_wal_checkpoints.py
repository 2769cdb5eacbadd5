"""The SQLite store's WAL goes into the database file on a thread of its own
(inlet.store.checkpointer), not inside the store thread's commits."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from inlet.model import Event
from inlet.store.checkpointer import BACKSTOP_PAGES, Checkpointer
from inlet.store.sqlite import SQLiteStore

NOW = 1_800_000_000.0
DEADLINE_S = 10.0


def until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        assert time.monotonic() < deadline, "the checkpointer did not get there in time"
        time.sleep(0.01)


def wal_database(path: Path) -> sqlite3.Connection:
    """A WAL database whose connection never checkpoints by itself."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA wal_autocheckpoint=0")
    db.execute("CREATE TABLE t (n INTEGER PRIMARY KEY, body TEXT)")
    return db


def test_a_commit_s_pages_are_copied_into_the_file_soon_after_a_nudge(tmp_path: Path) -> None:
    db = wal_database(tmp_path / "w.db")
    checkpointer = Checkpointer(tmp_path / "w.db", pause=0.01)
    checkpointer.start()
    try:
        db.executemany("INSERT INTO t (body) VALUES (?)", [("x" * 500,)] * 200)
        checkpointer.nudge()
        until(lambda: checkpointer.last is not None and checkpointer.last[1] > 0)
        last = checkpointer.last
        assert last is not None
        busy, frames, copied = last
        assert busy == 0 and copied == frames  # every committed page is in the file
    finally:
        checkpointer.stop()
        db.close()


def test_no_checkpoint_runs_without_a_commit_and_stop_ends_the_thread(tmp_path: Path) -> None:
    wal_database(tmp_path / "w.db").close()
    checkpointer = Checkpointer(tmp_path / "w.db", pause=0.01)
    checkpointer.start()
    time.sleep(0.1)  # would be several passes if it polled
    assert checkpointer.passes == 0
    checkpointer.stop()
    assert not any(t.name == "inlet-checkpoint" for t in threading.enumerate())


def test_a_failed_checkpoint_is_logged_and_the_next_nudge_runs_another(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "not.db").write_bytes(b"this is not an SQLite database" * 200)
    checkpointer = Checkpointer(tmp_path / "not.db", pause=0.01)
    checkpointer.start()
    try:
        with caplog.at_level(logging.WARNING, logger="inlet.store"):
            checkpointer.nudge()
            until(lambda: checkpointer.passes == 1)
            checkpointer.nudge()
            until(lambda: checkpointer.passes == 2)
        assert [r.message for r in caplog.records] == ["store.checkpoint_failed"] * 2
    finally:
        checkpointer.stop()


async def test_the_store_s_commits_are_checkpointed_off_its_thread(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "inlet.db"))
    await store.open()
    try:
        # The store's own connection checkpoints only past the backstop.
        assert store._conn.execute("PRAGMA wal_autocheckpoint").fetchone() == (BACKSTOP_PAGES,)
        events = [
            Event(
                internal_id=f"01EVENT{n:019d}",
                name="app/test",
                data={"n": n},
                id=f"e{n}",
                ts=int(NOW * 1000),
                received_at=NOW,
            )
            for n in range(50)
        ]
        await store.ingest(events, [], NOW, 86_400.0)
        checkpointer = store._checkpointer
        assert checkpointer is not None
        await asyncio.to_thread(until, lambda: checkpointer.passes >= 1)
    finally:
        await store.close()
    assert not any(t.name == "inlet-checkpoint" for t in threading.enumerate())
    reopened = SQLiteStore(str(tmp_path / "inlet.db"))
    await reopened.open()
    try:
        assert await reopened.get_event(f"01EVENT{49:019d}") is not None
    finally:
        await reopened.close()
