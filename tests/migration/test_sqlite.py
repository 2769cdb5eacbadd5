"""SQLite: the migration files, applied in order, build the schema the store opens and uses."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from inlet.store.relational import migrations, statements
from inlet.store.sqlite import SQLiteStore

from .schema import Schema, apply_sqlite, sqlite_schema

LATEST = migrations("sqlite")[-1][0]


def versions(path: Path) -> list[int]:
    with closing(sqlite3.connect(path)) as db:
        return [r[0] for r in db.execute("SELECT version FROM schema_version ORDER BY version")]


def read(path: Path) -> Schema:
    with closing(sqlite3.connect(path)) as db:
        return sqlite_schema(db)


def by_hand(path: Path, upto: int | None = None) -> Schema:
    with closing(apply_sqlite(str(path), upto)) as db:
        return sqlite_schema(db)


@pytest.mark.parametrize("dialect", ["sqlite", "postgres"])
def test_migration_files_are_numbered_from_1_without_gaps_and_each_holds_a_statement(
    dialect: str,
) -> None:
    found = migrations(dialect)
    assert [version for version, _ in found] == list(range(1, len(found) + 1))
    assert all(statements(sql) for _, sql in found)


def test_every_sqlite_migration_applies_in_order_to_a_fresh_file(tmp_path: Path) -> None:
    schema = by_hand(tmp_path / "inlet.db")

    assert versions(tmp_path / "inlet.db") == list(range(1, LATEST + 1))
    # The tables every store verb touches (store/relational.py, store/sqlite.py).
    assert set(schema.tables) == {
        "apps",
        "functions",
        "events",
        "runs",
        "event_runs",
        "run_keys",
        "memos",
        "queue",
        "attempts",
        "listeners",
        "cron_cursors",
        "inflight",
        "flow_state",
        "skips",
        "skip_sets",
        "tokens",
        "paused_functions",
        "bulk_ops",
        "users",
        "sessions",
        "alerts",
        "alert_outbox",
        "run_metadata",
    }


async def test_opening_the_store_on_a_fresh_file_records_the_latest_version(
    tmp_path: Path,
) -> None:
    path = tmp_path / "inlet.db"
    store = SQLiteStore(str(path))
    await store.open()
    try:
        # A working schema: reads that touch the apps, runs, queue and cron tables.
        assert await store.list_apps() == []
        assert await store.list_runs(None, active=True) == []
        assert await store.next_due() is None
        assert await store.cron_cursors() == {}
    finally:
        await store.close()

    assert versions(path) == list(range(1, LATEST + 1))
    assert read(path) == by_hand(tmp_path / "by-hand.db")


async def test_reopening_a_migrated_file_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "inlet.db"
    schemas = []
    for _ in range(2):
        store = SQLiteStore(str(path))
        await store.open()
        await store.close()
        schemas.append(read(path))

    assert schemas[0] == schemas[1]
    assert versions(path) == list(range(1, LATEST + 1))


@pytest.mark.parametrize("start", range(1, LATEST))
async def test_the_store_upgrades_a_file_left_at_any_older_version_to_the_fresh_schema(
    tmp_path: Path, start: int
) -> None:
    old = tmp_path / "old.db"
    by_hand(old, upto=start)

    store = SQLiteStore(str(old))
    await store.open()
    await store.close()

    assert versions(old) == list(range(1, LATEST + 1))
    assert read(old) == by_hand(tmp_path / "fresh.db")
