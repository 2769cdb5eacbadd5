"""The schema a database ended up with, read back from its catalogue in one comparable shape.

SQLite is read with ``PRAGMA table_info``/``index_list``/``index_info`` and ``sqlite_master``;
PostgreSQL with ``information_schema`` and ``pg_indexes`` (plus ``pg_index`` for the
structure ``pg_indexes`` only gives as text). Both become :class:`Schema`, normalised so that
what means the same in the two dialects compares equal:

- a column's type becomes a portable name through :data:`SQLITE_TYPES` / :data:`POSTGRES_TYPES`;
- NOT NULL is what the database enforces: a PostgreSQL primary key, an SQLite primary key of
  a ``WITHOUT ROWID`` table, and SQLite's ``INTEGER PRIMARY KEY`` (the rowid) are never NULL,
  while an SQLite ``TEXT PRIMARY KEY`` of an ordinary table accepts NULL unless declared
  NOT NULL (an SQLite quirk kept for backward compatibility);
- an auto-numbered key (SQLite's rowid alias, PostgreSQL's identity column) has the default
  ``auto``; other defaults lose PostgreSQL's casts (``'-1'::integer`` is ``-1``);
- indexes that only back a primary key are left out (the key itself is compared), and a
  partial index's predicate loses casts, outer parentheses and spacing differences.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from typing import Any

import psycopg

from inlet.store.relational import migrations, statements

# Declared type (SQLite) or information_schema data_type (PostgreSQL) -> portable type.
# INTEGER covers both PostgreSQL widths: SQLite's INTEGER is 64-bit whatever is declared.
SQLITE_TYPES = {"TEXT": "text", "INTEGER": "integer", "REAL": "float", "BLOB": "bytes"}
POSTGRES_TYPES = {
    "text": "text",
    "integer": "integer",
    "bigint": "integer",
    "double precision": "float",
    "bytea": "bytes",
}

# Bookkeeping the stores create themselves, outside the migration files, with a shape of
# their own per dialect (PostgreSQL also records when each version was applied).
BOOKKEEPING = frozenset({"schema_version"})

AUTO = "auto"


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    not_null: bool
    default: str | None


@dataclass(frozen=True)
class Index:
    name: str
    table: str
    columns: tuple[str, ...]
    unique: bool
    predicate: str | None


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


@dataclass(frozen=True)
class Schema:
    tables: dict[str, Table]
    indexes: dict[str, Index]


def predicate(text: str | None) -> str | None:
    """A partial index's WHERE clause in one spelling for both dialects."""
    if text is None:
        return None
    text = re.sub(r"::[a-z ]+", "", text)  # PostgreSQL's casts: 'timer'::text
    text = " ".join(text.split())
    while text.startswith("(") and text.endswith(")") and _balanced(text[1:-1]):
        text = text[1:-1].strip()
    return text


def _balanced(text: str) -> bool:
    depth = 0
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0


def default(text: str | None) -> str | None:
    if text is None:
        return None
    text = re.sub(r"::[a-z ]+$", "", text.strip())
    # PostgreSQL quotes a negative number it casts ('-1'::integer); a string stays quoted.
    unquoted = re.fullmatch(r"'(-?[0-9.]+)'", text)
    return unquoted.group(1) if unquoted else text


def apply_sqlite(path: str, upto: int | None = None) -> sqlite3.Connection:
    """Apply the SQLite migration files (all, or those up to version ``upto``) to the file
    ``path`` by hand, recording each version as the store does; the open connection."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    for version, sql in migrations("sqlite"):
        if upto is not None and version > upto:
            break
        db.execute("BEGIN IMMEDIATE")
        for statement in statements(sql):
            db.execute(statement)
        db.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
        db.execute("COMMIT")
    return db


def sqlite_schema(db: sqlite3.Connection) -> Schema:
    tables: dict[str, Table] = {}
    indexes: dict[str, Index] = {}
    rows = db.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    ).fetchall()
    for name, create in rows:
        if name in BOOKKEEPING:
            continue
        info = db.execute(f"PRAGMA table_info({name})").fetchall()
        without_rowid = bool(re.search(r"\)\s*WITHOUT\s+ROWID\s*$", create, re.IGNORECASE))
        primary_key = tuple(c[1] for c in sorted(info, key=lambda c: c[5]) if c[5])
        rowid_alias = (
            not without_rowid
            and len(primary_key) == 1
            and next(c[2] for c in info if c[1] == primary_key[0]).upper() == "INTEGER"
        )
        columns = []
        for _cid, column, declared, notnull, dflt, pk in info:
            is_rowid = rowid_alias and bool(pk)
            columns.append(
                Column(
                    name=column,
                    type=SQLITE_TYPES.get(declared.upper(), f"sqlite:{declared}"),
                    not_null=bool(notnull) or is_rowid or (without_rowid and bool(pk)),
                    default=AUTO if is_rowid else default(dflt),
                )
            )
        tables[name] = Table(name, tuple(columns), primary_key)
        for _seq, index, unique, origin, partial in db.execute(f"PRAGMA index_list({name})"):
            if origin == "pk":
                continue
            keys = db.execute(f"PRAGMA index_info({index})").fetchall()
            where = None
            if partial:
                (sql,) = db.execute(
                    "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?", (index,)
                ).fetchone()
                where = re.split(r"\bWHERE\b", sql, maxsplit=1, flags=re.IGNORECASE)[1]
            indexes[index] = Index(
                name=index,
                table=name,
                columns=tuple(k[2] for k in sorted(keys)),
                unique=bool(unique),
                predicate=predicate(where),
            )
    return Schema(tables, indexes)


def postgres_schema(conn: psycopg.Connection[Any]) -> Schema:
    tables: dict[str, Table] = {}
    names = [
        r[0]
        for r in conn.execute(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
        )
    ]
    for name in names:
        if name in BOOKKEEPING:
            continue
        info = conn.execute(
            "SELECT column_name, data_type, is_nullable, column_default, is_identity"
            " FROM information_schema.columns"
            " WHERE table_schema = 'public' AND table_name = %s ORDER BY ordinal_position",
            (name,),
        ).fetchall()
        primary_key = tuple(
            r[0]
            for r in conn.execute(
                "SELECT k.column_name FROM information_schema.table_constraints c"
                " JOIN information_schema.key_column_usage k"
                " ON k.constraint_schema = c.constraint_schema"
                " AND k.constraint_name = c.constraint_name"
                " WHERE c.table_schema = 'public' AND c.table_name = %s"
                " AND c.constraint_type = 'PRIMARY KEY' ORDER BY k.ordinal_position",
                (name,),
            )
        )
        columns = tuple(
            Column(
                name=column,
                type=POSTGRES_TYPES.get(data_type, f"postgres:{data_type}"),
                not_null=nullable == "NO",
                default=AUTO if identity == "YES" else default(dflt),
            )
            for column, data_type, nullable, dflt, identity in info
        )
        tables[name] = Table(name, columns, primary_key)
    indexes: dict[str, Index] = {}
    # pg_indexes names every index; pg_index gives its columns, uniqueness and predicate as
    # data rather than inside a CREATE INDEX text.
    rows = conn.execute(
        "SELECT p.indexname, p.tablename, x.indisunique, x.indisprimary,"
        " array(SELECT a.attname FROM unnest(x.indkey::int2[]) WITH ORDINALITY AS k(num, ord)"
        "       JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.num"
        "       ORDER BY k.ord),"
        " pg_get_expr(x.indpred, x.indrelid)"
        " FROM pg_indexes p"
        " JOIN pg_class i ON i.relname = p.indexname"
        " JOIN pg_namespace n ON n.oid = i.relnamespace AND n.nspname = p.schemaname"
        " JOIN pg_index x ON x.indexrelid = i.oid"
        " WHERE p.schemaname = 'public'"
    ).fetchall()
    for index, table, unique, primary, columns, where in rows:
        if primary or table in BOOKKEEPING:
            continue
        indexes[index] = Index(index, table, tuple(columns), bool(unique), predicate(where))
    return Schema(tables, indexes)


def differences(sqlite: Schema, postgres: Schema) -> list[str]:
    """Every way the two schemas disagree, one sentence each (empty when they agree)."""
    found: list[str] = []
    for name in sorted(sqlite.tables.keys() - postgres.tables.keys()):
        found.append(f"table {name}: only in SQLite")
    for name in sorted(postgres.tables.keys() - sqlite.tables.keys()):
        found.append(f"table {name}: only in PostgreSQL")
    for name in sorted(sqlite.tables.keys() & postgres.tables.keys()):
        lite, pg = sqlite.tables[name], postgres.tables[name]
        lite_names = [c.name for c in lite.columns]
        pg_names = [c.name for c in pg.columns]
        for column in lite_names:
            if column not in pg_names:
                found.append(f"column {name}.{column}: only in SQLite")
        for column in pg_names:
            if column not in lite_names:
                found.append(f"column {name}.{column}: only in PostgreSQL")
        for column in lite_names:
            if column not in pg_names:
                continue
            a, b = lite.column(column), pg.column(column)
            for field in ("type", "not_null", "default"):
                if getattr(a, field) != getattr(b, field):
                    found.append(
                        f"column {name}.{column}: {field} {getattr(a, field)!r} in SQLite, "
                        f"{getattr(b, field)!r} in PostgreSQL"
                    )
        if lite.primary_key != pg.primary_key:
            found.append(
                f"table {name}: primary key {lite.primary_key} in SQLite, "
                f"{pg.primary_key} in PostgreSQL"
            )
    for name in sorted(sqlite.indexes.keys() - postgres.indexes.keys()):
        found.append(f"index {name}: only in SQLite {_shape(sqlite.indexes[name])}")
    for name in sorted(postgres.indexes.keys() - sqlite.indexes.keys()):
        found.append(f"index {name}: only in PostgreSQL {_shape(postgres.indexes[name])}")
    for name in sorted(sqlite.indexes.keys() & postgres.indexes.keys()):
        a, b = sqlite.indexes[name], postgres.indexes[name]
        if a != b:
            found.append(f"index {name}: SQLite {_shape(a)}, PostgreSQL {_shape(b)}")
    return found


def _shape(index: Index) -> str:
    unique = "UNIQUE " if index.unique else ""
    where = f" WHERE {index.predicate}" if index.predicate else ""
    return f"{unique}ON {index.table} ({', '.join(index.columns)}){where}"
