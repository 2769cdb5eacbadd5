from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from inlet.store import Store
from inlet.store.memory import MemoryStore
from inlet.store.relational import RelationalStore
from inlet.store.sqlite import SQLiteStore

if TYPE_CHECKING:
    from inlet.store.postgres import PostgresStore


def sql_store(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> RelationalStore:
    """An unopened SQL store: an SQLite file in ``tmp_path``, or a fresh, migrated
    PostgreSQL database of the session's server."""
    if kind == "sqlite":
        return SQLiteStore(str(tmp_path / "inlet.db"))
    from inlet.store.postgres import PostgresStore, migrate

    url: str = request.getfixturevalue("pg_url")
    migrate(url)
    return PostgresStore(url)


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    backend: Store = (
        MemoryStore() if request.param == "memory" else sql_store(request.param, request, tmp_path)
    )
    await backend.open()
    try:
        yield backend
    finally:
        await backend.close()


@pytest.fixture
async def two(pg_url: str) -> AsyncIterator[tuple[PostgresStore, PostgresStore]]:
    """Two stores on one database, as two inlet processes would have."""
    from inlet.store.postgres import PostgresStore, migrate

    migrate(pg_url)
    a, b = PostgresStore(pg_url), PostgresStore(pg_url)
    await a.open()
    await b.open()
    try:
        yield a, b
    finally:
        await a.close()
        await b.close()
