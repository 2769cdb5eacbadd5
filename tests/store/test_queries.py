"""The named queries: every dialect defines every name the stores ask for, and every query
is valid SQL against the schema its dialect's migrations build."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest

from inlet.errors import StoreError
from inlet.store.postgres import migrate
from inlet.store.relational import migrations, statements
from inlet.store.sql import queries

WHERE_CLAUSES = {"events_page": "WHERE name = ? AND internal_id < ?"}
"""A ``{where}`` as the caller builds it, for the queries not over runs."""


def concrete(name: str, sql: str) -> str:
    """The query as a caller runs it: placeholders for variable parts filled in."""
    where = WHERE_CLAUSES.get(name, "WHERE function_slug = ?")
    filled = sql.replace("{marks}", "?, ?").replace("{where}", where)
    filled = filled.replace("{after}", "AND at >= ?")
    return filled.replace("{cursor}", "AND (at < ? OR (at = ? AND event_id < ?))")


def numbered(sql: str) -> str:
    """``?`` placeholders as PostgreSQL's ``$1, $2, ...`` (what PREPARE takes)."""
    parts = sql.split("?")
    return "".join(f"{part}${n}" for n, part in enumerate(parts[:-1], 1)) + parts[-1]


@pytest.mark.parametrize("dialect", queries.DIALECTS)
def test_every_dialect_defines_every_name_and_nothing_else(dialect: str) -> None:
    defined = queries.load(dialect).keys()
    assert defined - queries.COMBINED == queries.NAMES


def test_postgres_combines_a_lease_check_with_its_history_row_and_stores_events_at_once() -> None:
    assert queries.load("postgres").keys() >= queries.COMBINED


def test_sqlite_combines_nothing_beyond_storing_events_and_reserving_keys_at_once() -> None:
    # Every dialect stores a batch's events and reserves its keys in one statement each
    # (a statement per row is a GIL handoff per row on SQLite's store thread);
    # executemany serves SQLite's other writes of many rows.
    assert {"insert_events", "reserve_keys"} <= queries.NAMES
    assert not queries.load("sqlite").keys() & queries.COMBINED


def test_a_query_defined_twice_is_refused_by_name() -> None:
    with pytest.raises(StoreError, match="'x' is defined twice"):
        queries.parse("-- name: x\nSELECT 1\n-- name: x\nSELECT 2\n")


def test_comments_inside_a_query_are_dropped_and_its_lines_kept() -> None:
    parsed = queries.parse("-- name: q\n-- why\nSELECT 1\nFROM t;\n\n-- name: r\nSELECT 2\n")
    assert parsed == {"q": "SELECT 1\nFROM t", "r": "SELECT 2"}


def test_every_query_compiles_against_the_migrated_sqlite_schema(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "q.db")
    for _, sql in migrations("sqlite"):
        for statement in statements(sql):
            db.execute(statement)
    for name, sql in queries.load("sqlite").items():
        text = concrete(name, sql)
        try:
            db.execute(f"EXPLAIN {text}", [None] * text.count("?"))
        except sqlite3.Error as exc:
            pytest.fail(f"query {name}: {exc}")


def test_every_query_prepares_against_the_migrated_postgres_schema(pg_url: str) -> None:
    migrate(pg_url)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        for name, sql in queries.load("postgres").items():
            text = numbered(concrete(name, sql))
            try:
                conn.execute(f"PREPARE check_{name} AS {text}".encode())
                conn.execute(f"DEALLOCATE check_{name}".encode())
            except psycopg.Error as exc:
                pytest.fail(f"query {name}: {exc}")
