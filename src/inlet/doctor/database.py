"""The database as the doctor sees it: reachable on a connection of its own, and its schema
version against the newest this inlet knows. Read-only; runs in a thread.

A connection apart from the store's, so the answer is about the database now (a PostgreSQL
server that went away, a schema another process changed), not about a connection opened
at start-up.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from inlet.config import DatabaseURL
from inlet.doctor.checks import DatabaseStatus
from inlet.redact import redact
from inlet.store.relational import migrations

SQLITE_TIMEOUT = 5.0


async def database_status(db: DatabaseURL) -> DatabaseStatus:
    if db.scheme == "memory":
        return DatabaseStatus("memory", db.safe)
    return await asyncio.to_thread(_read, db)


def _read(db: DatabaseURL) -> DatabaseStatus:
    dialect = "postgres" if db.scheme == "postgresql" else "sqlite"
    latest = migrations(dialect)[-1][0]
    try:
        version = _postgres_version(db.raw) if db.scheme == "postgresql" else _sqlite_version(db)
    except Exception as exc:  # the driver's errors: unreachable, bad credentials, no file
        return DatabaseStatus(db.scheme, db.safe, latest, error=redact(str(exc).strip()))
    return DatabaseStatus(db.scheme, db.safe, latest, version)


def _sqlite_version(db: DatabaseURL) -> int:
    path = Path(db.path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"no such file {path}")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=SQLITE_TIMEOUT)
    try:
        row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
    finally:
        conn.close()
    return int(row[0] or 0)


def _postgres_version(url: str) -> int:
    from inlet.store.postgres import connect, schema_version

    with connect(url) as conn:
        return schema_version(conn)
