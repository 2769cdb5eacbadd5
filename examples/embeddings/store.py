"""The example's database: issues and pull requests, their vectors, jobs and metrics.

SQLite with the sqlite-vec extension (a ``vec0`` table of ``float[384]``, cosine distance).
Python builds without extension loading (pyenv's, for one) use the ``pysqlite3`` wheel,
which bundles a SQLite that loads extensions. Every write is one transaction: a batch's
vectors and its job's progress commit together or not at all.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import sqlite_vec

Vector = list[float]

SCHEMA = """
create table if not exists items (
    id integer primary key,
    repo text not null,
    kind text not null check (kind in ('issue', 'pr')),
    number integer not null,
    title text not null,
    body text not null,
    embedded_at real,
    unique (repo, kind, number)
);
create table if not exists jobs (
    id integer primary key,
    run_id text not null unique,
    reason text not null,
    status text not null,
    processed integer not null default 0,
    total integer not null,
    error text,
    created_at real not null,
    updated_at real not null
);
create table if not exists job_batches (
    job_id integer not null references jobs (id),
    batch integer not null,
    items integer not null,
    primary key (job_id, batch)
);
create table if not exists workspace_metrics (
    id integer primary key,
    repo text not null,
    issues integer not null,
    prs integer not null,
    embedded integer not null,
    computed_at real not null
);
"""


def _connect(path: str) -> sqlite3.Connection:
    module: Any = sqlite3
    if not hasattr(sqlite3.Connection, "enable_load_extension"):
        from pysqlite3 import dbapi2

        module = dbapi2
    db: sqlite3.Connection = module.connect(path, timeout=30.0, isolation_level=None)
    db.enable_load_extension(True)
    sqlite_vec.load(db)
    db.enable_load_extension(False)
    db.row_factory = module.Row
    db.execute("pragma journal_mode = wal")
    return db


@dataclass(frozen=True)
class Item:
    id: int
    repo: str
    kind: str
    number: int
    title: str
    body: str

    @property
    def text(self) -> str:
        return f"{self.title}\n\n{self.body}"


@dataclass(frozen=True)
class Job:
    id: int
    run_id: str
    reason: str
    status: str
    processed: int
    total: int
    error: str | None

    @property
    def progress(self) -> str:
        return f"Progress: {self.processed}/{self.total}"


class Store:
    def __init__(self, path: str, dimensions: int) -> None:
        self.dimensions = dimensions
        self._db = _connect(path)
        self._db.executescript(SCHEMA)
        self._db.execute(
            "create virtual table if not exists item_vectors using vec0("
            f"embedding float[{dimensions}] distance_metric=cosine)"
        )

    def close(self) -> None:
        self._db.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("begin immediate")
        try:
            yield self._db
        except BaseException:
            self._db.execute("rollback")
            raise
        self._db.execute("commit")

    # --- items ---------------------------------------------------------------------------

    def add_items(self, items: Sequence[dict[str, Any]]) -> int:
        """Insert issues and PRs; an item already there (repo, kind, number) is skipped."""
        with self._transaction() as db:
            before = db.total_changes
            db.executemany(
                "insert or ignore into items (repo, kind, number, title, body) "
                "values (:repo, :kind, :number, :title, :body)",
                items,
            )
            return db.total_changes - before

    def items(self, ids: Sequence[int]) -> list[Item]:
        marks = ",".join("?" * len(ids))
        rows = self._db.execute(
            f"select id, repo, kind, number, title, body from items where id in ({marks}) "
            "order by id",
            list(ids),
        )
        return [Item(**dict(r)) for r in rows]

    def item(self, item_id: int) -> Item | None:
        found = self.items([item_id])
        return found[0] if found else None

    def needing_embedding(self) -> list[int]:
        rows = self._db.execute("select id from items where embedded_at is null order by id")
        return [int(r["id"]) for r in rows]

    def counts(self) -> dict[str, int]:
        row = self._db.execute(
            "select count(*) as items, count(embedded_at) as embedded from items"
        ).fetchone()
        return {"items": int(row["items"]), "embedded": int(row["embedded"])}

    # --- vectors -------------------------------------------------------------------------

    def save_batch(self, job_id: int, batch: int, vectors: dict[int, Vector]) -> Job:
        """Store a batch's vectors and count it in its job, in one transaction.

        A step retried after its commit (its answer lost) finds its batch recorded and
        counts nothing twice."""
        now = time.time()
        with self._transaction() as db:
            for item_id, vector in vectors.items():
                db.execute("delete from item_vectors where rowid = ?", (item_id,))
                db.execute(
                    "insert into item_vectors (rowid, embedding) values (?, ?)",
                    (item_id, sqlite_vec.serialize_float32(vector)),
                )
                db.execute("update items set embedded_at = ? where id = ?", (now, item_id))
            inserted = db.execute(
                "insert or ignore into job_batches (job_id, batch, items) values (?, ?, ?)",
                (job_id, batch, len(vectors)),
            ).rowcount
            if inserted:
                db.execute(
                    "update jobs set processed = processed + ?, updated_at = ? where id = ?",
                    (len(vectors), now, job_id),
                )
        job = self.job(job_id)
        assert job is not None
        return job

    def similar(self, vector: Vector, k: int) -> list[tuple[Item, float]]:
        rows = self._db.execute(
            "select rowid, distance from item_vectors where embedding match ? and k = ? "
            "order by distance",
            (sqlite_vec.serialize_float32(vector), k),
        ).fetchall()
        items = {i.id: i for i in self.items([int(r["rowid"]) for r in rows])}
        return [(items[int(r["rowid"])], float(r["distance"])) for r in rows]

    def vector(self, item_id: int) -> Vector | None:
        row = self._db.execute(
            "select vec_to_json(embedding) as v from item_vectors where rowid = ?", (item_id,)
        ).fetchone()
        if row is None:
            return None
        import json

        vector: Vector = json.loads(row["v"])
        return vector

    # --- jobs ----------------------------------------------------------------------------

    def start_job(self, run_id: str, reason: str, total: int) -> Job:
        """The job of this run, created once: a retried step finds the same row."""
        now = time.time()
        with self._transaction() as db:
            db.execute(
                "insert or ignore into jobs (run_id, reason, status, total, created_at, "
                "updated_at) values (?, ?, 'running', ?, ?, ?)",
                (run_id, reason, total, now, now),
            )
        job = self._job_where("run_id = ?", run_id)
        assert job is not None
        return job

    def finish_job(self, job_id: int, status: str, error: str | None = None) -> Job | None:
        with self._transaction() as db:
            db.execute(
                "update jobs set status = ?, error = ?, updated_at = ? where id = ?",
                (status, error, time.time(), job_id),
            )
        return self.job(job_id)

    def fail_run_job(self, run_id: str, error: str) -> Job | None:
        with self._transaction() as db:
            db.execute(
                "update jobs set status = 'failed', error = ?, updated_at = ? "
                "where run_id = ? and status = 'running'",
                (error, time.time(), run_id),
            )
        return self._job_where("run_id = ?", run_id)

    def job(self, job_id: int) -> Job | None:
        return self._job_where("id = ?", job_id)

    def jobs(self, limit: int = 50) -> list[Job]:
        rows = self._db.execute(
            "select id, run_id, reason, status, processed, total, error from jobs "
            "order by id desc limit ?",
            (limit,),
        )
        return [Job(**dict(r)) for r in rows]

    def _job_where(self, where: str, value: object) -> Job | None:
        row = self._db.execute(
            f"select id, run_id, reason, status, processed, total, error from jobs where {where}",
            (value,),
        ).fetchone()
        return Job(**dict(row)) if row else None

    # --- workspace metrics ---------------------------------------------------------------

    def aggregate_metrics(self) -> int:
        now = time.time()
        with self._transaction() as db:
            return db.execute(
                "insert into workspace_metrics (repo, issues, prs, embedded, computed_at) "
                "select repo, sum(kind = 'issue'), sum(kind = 'pr'), count(embedded_at), ? "
                "from items group by repo",
                (now,),
            ).rowcount

    def delete_metrics_before(self, cutoff: float) -> int:
        with self._transaction() as db:
            return db.execute(
                "delete from workspace_metrics where computed_at < ?", (cutoff,)
            ).rowcount
