"""The one place that turns a database URL into a ``Store``.

Backends are imported only when chosen, so a process on SQLite never imports the
PostgreSQL driver, and the edges (API, CLI) depend on ``Store`` alone.
"""

from __future__ import annotations

from inlet.config import DatabaseURL, Settings
from inlet.store.base import Store


def open_store(url_or_settings: str | Settings) -> Store:
    """The backend named by a database URL (``sqlite:///PATH``, ``postgresql://...``,
    ``memory://``) or by ``Settings.database_url``; raises ``ConfigError`` for any other."""
    if isinstance(url_or_settings, Settings):
        db = url_or_settings.database
    else:
        db = DatabaseURL.parse(url_or_settings)
    if db.scheme == "memory":
        from inlet.store.memory import MemoryStore

        return MemoryStore()
    if db.scheme == "postgresql":
        from inlet.store.postgres import PostgresStore

        return PostgresStore(db.raw)
    from inlet.store.sqlite import SQLiteStore

    return SQLiteStore(db.path)
