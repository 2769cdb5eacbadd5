"""SQLite and PostgreSQL agree table by table and index by index.

Both schemas are built from the migration files alone (SQLite 1..N in order, PostgreSQL
through ``migrate``), read back from each catalogue and normalised (``schema.py``). Each
test compares one aspect and fails on any difference that is not listed in
:data:`DIFFERENCES` with its reason; a listed difference that has gone away fails too, so
the list is always the exact, current set.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import psycopg
import pytest

from inlet.store.postgres import migrate

from .schema import Schema, apply_sqlite, differences, postgres_schema, sqlite_schema

# Every difference between the two schemas today, each with why it is there.
DIFFERENCES = {
    "table queue_horizon: only in PostgreSQL": (
        "by design: several processes share a PostgreSQL database, so how far a negative "
        "priority has pushed any item is kept in a row; one process owns an SQLite file and "
        "keeps it in memory, recomputed from runs at open (store/sqlite.py)"
    ),
    "column apps.url: not_null False in SQLite, True in PostgreSQL": (
        "SQLite quirk: a TEXT PRIMARY KEY of a rowid table accepts NULL; the store always "
        "writes a url. Making it NOT NULL on SQLite needs a table rebuild"
    ),
    "column functions.slug: not_null False in SQLite, True in PostgreSQL": (
        "the same quirk as apps.url; the store always writes a slug"
    ),
    "index memos_run_seq: only in PostgreSQL ON memos (run_id, seq)": (
        "run_state reads memos WHERE run_id = ? ORDER BY seq; both dialects can find a run's "
        "memos by the primary key (run_id, step_id), so this index only saves sorting one "
        "run's memos, at the price of an index write per step on PostgreSQL"
    ),
    "index queue_rank: SQLite ON queue (rank), PostgreSQL ON queue (rank, id)": (
        "the same index: queue is WITHOUT ROWID on SQLite, so every index entry ends with "
        "the primary key id and the claim's ORDER BY rank, id is served either way"
    ),
}


@pytest.fixture
def schemas(tmp_path: Path, pg_url: str) -> tuple[Schema, Schema]:
    with closing(apply_sqlite(str(tmp_path / "inlet.db"))) as db:
        lite = sqlite_schema(db)
    migrate(pg_url)
    with psycopg.connect(pg_url) as conn:
        pg = postgres_schema(conn)
    return lite, pg


def check(schemas: tuple[Schema, Schema], aspect: str) -> None:
    found = [d for d in differences(*schemas) if d.startswith(aspect)]
    expected = [d for d in DIFFERENCES if d.startswith(aspect)]
    assert sorted(found) == sorted(expected)


def test_both_dialects_have_the_same_tables(schemas: tuple[Schema, Schema]) -> None:
    check(schemas, "table ")


def test_each_table_has_the_same_columns_with_compatible_types_not_null_and_defaults(
    schemas: tuple[Schema, Schema],
) -> None:
    check(schemas, "column ")


def test_each_table_has_the_same_primary_key(schemas: tuple[Schema, Schema]) -> None:
    lite, pg = schemas
    for name in lite.tables.keys() & pg.tables.keys():
        assert lite.tables[name].primary_key == pg.tables[name].primary_key, name


def test_both_dialects_have_the_same_indexes_columns_uniqueness_and_predicates(
    schemas: tuple[Schema, Schema],
) -> None:
    check(schemas, "index ")


SAME_SQLITE = [
    "CREATE TABLE t (id TEXT PRIMARY KEY, n INTEGER NOT NULL DEFAULT -1, big INTEGER,"
    " f REAL NOT NULL DEFAULT 0, b BLOB, k TEXT NOT NULL DEFAULT '', v TEXT) WITHOUT ROWID",
    "CREATE TABLE s (seq INTEGER PRIMARY KEY, x TEXT NOT NULL)",
    "CREATE INDEX t_k ON t (k, id) WHERE k = 'timer'",
    "CREATE UNIQUE INDEX t_v ON t (v, n) WHERE v IS NOT NULL",
]
SAME_POSTGRES = [
    'CREATE TABLE t (id TEXT COLLATE "C" PRIMARY KEY, n INTEGER NOT NULL DEFAULT -1,'
    " big BIGINT, f DOUBLE PRECISION NOT NULL DEFAULT 0, b BYTEA,"
    " k TEXT NOT NULL DEFAULT '', v TEXT)",
    "CREATE TABLE s (seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, x TEXT NOT NULL)",
    "CREATE INDEX t_k ON t (k, id) WHERE k = 'timer'",
    "CREATE UNIQUE INDEX t_v ON t (v, n) WHERE v IS NOT NULL",
]


def sqlite_of(script: list[str]) -> Schema:
    with closing(sqlite3.connect(":memory:")) as db:
        for statement in script:
            db.execute(statement)
        return sqlite_schema(db)


def test_the_same_definitions_in_each_dialect_compare_equal(pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        for statement in SAME_POSTGRES:
            conn.execute(statement.encode())
        pg = postgres_schema(conn)

    assert differences(sqlite_of(SAME_SQLITE), pg) == []


@pytest.mark.parametrize(
    ("old", "new", "found"),
    [
        ("v TEXT)", "v TEXT, w TEXT)", "column t.w: only in SQLite"),
        ("n INTEGER", "n REAL", "column t.n: type 'float' in SQLite, 'integer' in PostgreSQL"),
        ("v TEXT)", "v TEXT NOT NULL)", "column t.v: not_null True in SQLite, False in PostgreSQL"),
        ("DEFAULT -1", "DEFAULT 1", "column t.n: default '1' in SQLite, '-1' in PostgreSQL"),
        (
            "seq INTEGER PRIMARY KEY, x TEXT NOT NULL",
            "seq INTEGER NOT NULL, x TEXT NOT NULL PRIMARY KEY",
            "table s: primary key ('x',) in SQLite, ('seq',) in PostgreSQL",
        ),
        ("(k, id)", "(k)", "index t_k: SQLite ON t (k) WHERE k = 'timer', PostgreSQL ON t (k, id)"),
        ("= 'timer'", "= 'sleep'", "index t_k: SQLite ON t (k, id) WHERE k = 'sleep'"),
        ("UNIQUE INDEX", "INDEX", "index t_v: SQLite ON t (v, n) WHERE v IS NOT NULL, PostgreSQL"),
        ("seq INTEGER PRIMARY KEY", "seq TEXT PRIMARY KEY", "column s.seq: type 'text'"),
    ],
)
def test_the_comparison_names_a_difference_in_each_aspect(old: str, new: str, found: str) -> None:
    """The normalisation must not hide what the tests above look for."""
    reference = sqlite_of(SAME_SQLITE)
    script = [s.replace(old, new, 1) if old in s else s for s in SAME_SQLITE]
    assert script != SAME_SQLITE
    changed = sqlite_of(script)

    assert [d for d in differences(changed, reference) if d.startswith(found)], differences(
        changed, reference
    )
