"""PostgreSQL: ``inlet migrate``'s function builds the schema the store opens, once."""

from __future__ import annotations

import psycopg

from inlet.store.postgres import PostgresStore, migrate
from inlet.store.relational import migrations

from .schema import postgres_schema

LATEST = migrations("postgres")[-1][0]


def versions(url: str) -> list[int]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute("SELECT version FROM schema_version ORDER BY version")]


def read(url: str) -> object:
    with psycopg.connect(url) as conn:
        return postgres_schema(conn)


async def test_migrate_applies_every_postgres_migration_to_an_empty_database(
    pg_url: str,
) -> None:
    assert migrate(pg_url) == (0, LATEST)
    assert versions(pg_url) == list(range(1, LATEST + 1))

    store = PostgresStore(pg_url)
    await store.open()
    try:
        # A working schema: reads that touch the apps, runs, queue and cron tables.
        assert await store.list_apps() == []
        assert await store.list_runs(None, active=True) == []
        assert await store.next_due() is None
        assert await store.cron_cursors() == {}
    finally:
        await store.close()


def test_a_second_migrate_changes_nothing(pg_url: str) -> None:
    migrate(pg_url)
    schema = read(pg_url)

    assert migrate(pg_url) == (LATEST, LATEST)
    assert read(pg_url) == schema
    assert versions(pg_url) == list(range(1, LATEST + 1))
