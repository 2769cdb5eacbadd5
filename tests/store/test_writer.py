"""The SQL stores' thread: group commit, and failures that undo only themselves (on
PostgreSQL also when the failure is the database's, found late in pipeline mode)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from inlet.errors import StoreError
from inlet.store.relational import RelationalStore

from .conftest import sql_store


@pytest.fixture(params=["sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    s = sql_store(request.param, request, tmp_path)
    await s.open()
    await s._write(lambda: s._conn.execute("CREATE TABLE scratch (n INTEGER PRIMARY KEY)"))
    yield s
    await s.close()


def rows(store: RelationalStore) -> list[int]:
    return sorted(r[0] for r in store._conn.execute("SELECT n FROM scratch"))


async def test_a_failing_write_in_a_batch_undoes_only_itself(store: RelationalStore) -> None:
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


async def test_many_writes_queued_at_once_all_commit(store: RelationalStore) -> None:
    def insert(n: int) -> None:
        store._conn.execute("INSERT INTO scratch (n) VALUES (?)", (n,))

    await asyncio.gather(*(store._write(insert, n) for n in range(500)))
    assert await store._call(rows, store) == list(range(500))


async def test_a_write_the_database_refuses_undoes_only_itself(store: RelationalStore) -> None:
    def insert(n: int) -> int:
        store._conn.execute("INSERT INTO scratch (n) VALUES (?)", (n,))
        return n

    results = await asyncio.gather(
        store._write(insert, 1),
        store._write(insert, 1),  # a duplicate key: refused by the database, not by Python
        store._write(insert, 2),
        return_exceptions=True,
    )
    assert results[0] == 1 and results[2] == 2
    assert isinstance(results[1], StoreError)
    assert await store._call(rows, store) == [1, 2]
