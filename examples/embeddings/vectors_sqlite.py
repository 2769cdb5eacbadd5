"""SQLite with the sqlite-vec extension: the default database of the example.

Python builds without extension loading (pyenv's, for one) use the ``pysqlite3`` wheel,
which bundles a SQLite that loads extensions. Vectors live in a ``vec0`` table of
``float[N]`` with cosine distance, keyed by the item's id.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

import sqlite_vec

IDENTITY = "integer primary key"


class SqliteVecDatabase:
    placeholder = "?"

    def __init__(self, path: str, dimensions: int, schema: list[str]) -> None:
        module: Any = sqlite3
        if not hasattr(sqlite3.Connection, "enable_load_extension"):
            from pysqlite3 import dbapi2

            module = dbapi2
        self._db: sqlite3.Connection = module.connect(path, timeout=30.0, isolation_level=None)
        self._db.enable_load_extension(True)
        sqlite_vec.load(self._db)
        self._db.enable_load_extension(False)
        self._db.row_factory = module.Row
        self._db.execute("pragma journal_mode = wal")
        for statement in schema:
            self._db.execute(statement.format(identity=IDENTITY))
        self._db.execute(
            "create virtual table if not exists item_vectors using vec0("
            f"embedding float[{dimensions}] distance_metric=cosine)"
        )

    def close(self) -> None:
        self._db.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        # IMMEDIATE: take the write lock at the start, not at the first write.
        self._db.execute("begin immediate")
        try:
            yield
        except BaseException:
            self._db.execute("rollback")
            raise
        self._db.execute("commit")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return [dict(row) for row in self._db.execute(sql, params)]

    def write(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self._db.execute(sql, params).rowcount

    def write_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._db.executemany(sql, rows)

    def put_vector(self, item_id: int, vector: list[float]) -> None:
        # vec0 has no upsert: a re-embedded item replaces its row.
        self._db.execute("delete from item_vectors where rowid = ?", (item_id,))
        self._db.execute(
            "insert into item_vectors (rowid, embedding) values (?, ?)",
            (item_id, sqlite_vec.serialize_float32(vector)),
        )

    def nearest(self, vector: list[float], k: int) -> list[tuple[int, float]]:
        rows = self._db.execute(
            "select rowid, distance from item_vectors where embedding match ? and k = ? "
            "order by distance",
            (sqlite_vec.serialize_float32(vector), k),
        )
        return [(int(r["rowid"]), float(r["distance"])) for r in rows]

    def vector(self, item_id: int) -> list[float] | None:
        row = self._db.execute(
            "select vec_to_json(embedding) as v from item_vectors where rowid = ?", (item_id,)
        ).fetchone()
        if row is None:
            return None
        found: list[float] = json.loads(row["v"])
        return found
