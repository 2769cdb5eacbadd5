from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from inlet.store import Store
from inlet.store.memory import MemoryStore
from inlet.store.sqlite import SQLiteStore


@pytest.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    backend: Store = (
        MemoryStore() if request.param == "memory" else SQLiteStore(str(tmp_path / "inlet.db"))
    )
    await backend.open()
    try:
        yield backend
    finally:
        await backend.close()
