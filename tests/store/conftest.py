from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from inlet.store import Store
from inlet.store.memory import MemoryStore
from inlet.store.relational import RelationalStore
from inlet.store.sqlite import SQLiteStore


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
