from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from inlet.store import Store
from inlet.store.memory import MemoryStore
from inlet.store.sqlite import SQLiteStore


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    backend: Store
    if request.param == "memory":
        backend = MemoryStore()
    elif request.param == "sqlite":
        backend = SQLiteStore(str(tmp_path / "inlet.db"))
    else:
        from inlet.store.postgres import PostgresStore, migrate

        url: str = request.getfixturevalue("pg_url")
        migrate(url)
        backend = PostgresStore(url)
    await backend.open()
    try:
        yield backend
    finally:
        await backend.close()
