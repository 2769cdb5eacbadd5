"""Connecting to PostgreSQL and bringing its schema up to date (``inlet migrate``), apart
from the store that then works on it (``inlet.store.postgres``)."""

from __future__ import annotations

import logging
import time
from typing import Any

import psycopg

from inlet.errors import SchemaMismatch
from inlet.store.relational import migrations, statements

log = logging.getLogger("inlet.store")

MIGRATE_LOCK = 0x1A1E8
"""The one-key advisory lock processes migrating at once take turns on."""
CONNECT_TIMEOUT = 5


def connect(url: str, name: str | None = None) -> psycopg.Connection[Any]:
    return psycopg.connect(
        url, autocommit=True, connect_timeout=CONNECT_TIMEOUT, application_name=name
    )


def schema_version(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute(
        "SELECT to_regclass('schema_version') IS NOT NULL",
    ).fetchone()
    if row is None or not row[0]:
        return 0
    found = conn.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(found[0] or 0) if found is not None else 0


def migrate(url: str) -> tuple[int, int]:
    """Apply the migrations the database lacks; returns (version before, version after).
    Safe to run from several processes at once (they take turns on an advisory lock)."""
    with connect(url) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATE_LOCK,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
                "applied_at DOUBLE PRECISION NOT NULL)"
            )
            before = schema_version(conn)
            known = migrations("postgres")
            latest = known[-1][0]
            if before > latest:
                raise SchemaMismatch(
                    f"database schema version {before} is newer than this inlet ({latest}); "
                    "upgrade inlet"
                )
            for version, sql in known:
                if version <= before:
                    continue
                with conn.transaction():
                    for statement in statements(sql):
                        conn.execute(statement.encode())
                    conn.execute(
                        "INSERT INTO schema_version (version, applied_at) VALUES (%s, %s)",
                        (version, time.time()),
                    )
                log.info("store.migrated", extra={"version": version})
            return before, max(before, latest)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATE_LOCK,))
