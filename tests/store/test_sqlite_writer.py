"""The SQLite store thread: group commit, and failures that undo only themselves."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from inlet.store.sqlite import SQLiteStore


@pytest.fixture
async def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    s = SQLiteStore(str(tmp_path / "inlet.db"))
    await s.open()
    await s._write(lambda: s._conn.execute("CREATE TABLE scratch (n INTEGER)"))
    yield s
    await s.close()


def rows(store: SQLiteStore) -> list[int]:
    return sorted(r[0] for r in store._conn.execute("SELECT n FROM scratch"))


async def test_a_failing_write_in_a_batch_undoes_only_itself(store: SQLiteStore) -> None:
    def insert(n: int) -> int:
        store._conn.execute("INSERT INTO scratch (n) VALUES (?)", (n,))
        return n

    def fail() -> None:
        store._conn.execute("INSERT INTO scratch (n) VALUES (99)")
        raise ValueError("boom")

    results = await asyncio.gather(
        store._write(insert, 1),
        store._write(fail),
        store._write(insert, 2),
        return_exceptions=True,
    )
    assert results[0] == 1 and results[2] == 2
    assert isinstance(results[1], ValueError)
    assert await store._call(rows, store) == [1, 2]


async def test_many_writes_queued_at_once_all_commit(store: SQLiteStore) -> None:
    def insert(n: int) -> None:
        store._conn.execute("INSERT INTO scratch (n) VALUES (?)", (n,))

    await asyncio.gather(*(store._write(insert, n) for n in range(500)))
    assert await store._call(rows, store) == list(range(500))
