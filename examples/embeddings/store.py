"""The example's data: issues and pull requests, their vectors, jobs and workspace metrics.

One implementation over two databases: SQLite with sqlite-vec (``vectors_sqlite.py``, the
default) and PostgreSQL with pgvector (``vectors_postgres.py``, for a postgresql:// URL).
Each write is one transaction: a batch's vectors and its job's progress commit together
or not at all.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

Vector = list[float]

SCHEMA = [
    """create table if not exists items (
        id {identity},
        repo text not null,
        kind text not null check (kind in ('issue', 'pr')),
        number integer not null,
        title text not null,
        body text not null,
        embedded_at double precision,
        unique (repo, kind, number)
    )""",
    """create table if not exists jobs (
        id {identity},
        run_id text not null unique,
        reason text not null,
        status text not null,
        processed integer not null default 0,
        total integer not null,
        error text,
        created_at double precision not null,
        updated_at double precision not null
    )""",
    """create table if not exists job_batches (
        job_id bigint not null references jobs (id),
        batch integer not null,
        items integer not null,
        primary key (job_id, batch)
    )""",
    """create table if not exists workspace_metrics (
        id {identity},
        repo text not null,
        issues integer not null,
        prs integer not null,
        embedded integer not null,
        computed_at double precision not null
    )""",
]
JOB_COLUMNS = "id, run_id, reason, status, processed, total, error"


class Database(Protocol):
    """What the store needs of a database: SQL with ``?`` placeholders, and vectors."""

    placeholder: str

    def close(self) -> None: ...
    def transaction(self) -> AbstractContextManager[None]: ...
    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]: ...
    def write(self, sql: str, params: Sequence[Any] = ()) -> int: ...
    def write_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...
    def put_vector(self, item_id: int, vector: Vector) -> None: ...
    def nearest(self, vector: Vector, k: int) -> list[tuple[int, float]]: ...
    def vector(self, item_id: int) -> Vector | None: ...


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


def open_database(url: str, dimensions: int) -> Database:
    """A postgresql:// URL opens PostgreSQL with pgvector; anything else is a SQLite file."""
    if url.startswith(("postgresql://", "postgres://")):
        from .vectors_postgres import PgvectorDatabase

        return PgvectorDatabase(url, dimensions, SCHEMA)
    from .vectors_sqlite import SqliteVecDatabase

    return SqliteVecDatabase(url, dimensions, SCHEMA)


class Store:
    def __init__(self, db: Database) -> None:
        self._db = db

    def close(self) -> None:
        self._db.close()

    def _sql(self, sql: str) -> str:
        return sql.replace("?", self._db.placeholder)

    def _query(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        return self._db.query(self._sql(sql), params)

    def _write(self, sql: str, *params: Any) -> int:
        return self._db.write(self._sql(sql), params)

    # --- items ---------------------------------------------------------------------------

    def add_items(self, items: Sequence[dict[str, Any]]) -> int:
        """Insert issues and PRs; an item already there (repo, kind, number) is skipped."""
        rows = [(i["repo"], i["kind"], i["number"], i["title"], i["body"]) for i in items]
        with self._db.transaction():
            before = self.counts()["items"]
            self._db.write_many(
                self._sql(
                    "insert into items (repo, kind, number, title, body) "
                    "values (?, ?, ?, ?, ?) on conflict do nothing"
                ),
                rows,
            )
            return self.counts()["items"] - before

    def items(self, ids: Sequence[int]) -> list[Item]:
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        rows = self._query(
            f"select id, repo, kind, number, title, body from items where id in ({marks}) "
            "order by id",
            *ids,
        )
        return [Item(**row) for row in rows]

    def item(self, item_id: int) -> Item | None:
        found = self.items([item_id])
        return found[0] if found else None

    def needing_embedding(self) -> list[int]:
        rows = self._query("select id from items where embedded_at is null order by id")
        return [int(r["id"]) for r in rows]

    def counts(self) -> dict[str, int]:
        (row,) = self._query("select count(*) as items, count(embedded_at) as embedded from items")
        return {"items": int(row["items"]), "embedded": int(row["embedded"])}

    # --- vectors -------------------------------------------------------------------------

    def save_batch(self, job_id: int, batch: int, vectors: dict[int, Vector]) -> Job:
        """Store a batch's vectors and count it in its job, in one transaction.

        A step retried after its commit (its answer lost) finds its batch recorded and
        counts nothing twice."""
        now = time.time()
        with self._db.transaction():
            for item_id, vector in vectors.items():
                self._db.put_vector(item_id, vector)
                self._write("update items set embedded_at = ? where id = ?", now, item_id)
            inserted = self._write(
                "insert into job_batches (job_id, batch, items) values (?, ?, ?) "
                "on conflict do nothing",
                job_id,
                batch,
                len(vectors),
            )
            if inserted:
                self._write(
                    "update jobs set processed = processed + ?, updated_at = ? where id = ?",
                    len(vectors),
                    now,
                    job_id,
                )
        job = self.job(job_id)
        assert job is not None
        return job

    def similar(self, vector: Vector, k: int) -> list[tuple[Item, float]]:
        nearest = self._db.nearest(vector, k)
        items = {i.id: i for i in self.items([item_id for item_id, _ in nearest])}
        return [(items[item_id], distance) for item_id, distance in nearest]

    def vector(self, item_id: int) -> Vector | None:
        return self._db.vector(item_id)

    # --- jobs ----------------------------------------------------------------------------

    def start_job(self, run_id: str, reason: str, total: int) -> Job:
        """The job of this run, created once: a retried step finds the same row."""
        now = time.time()
        with self._db.transaction():
            self._write(
                "insert into jobs (run_id, reason, status, total, created_at, updated_at) "
                "values (?, ?, 'running', ?, ?, ?) on conflict do nothing",
                run_id,
                reason,
                total,
                now,
                now,
            )
        job = self._job_where("run_id = ?", run_id)
        assert job is not None
        return job

    def finish_job(self, job_id: int, status: str, error: str | None = None) -> Job | None:
        self._write(
            "update jobs set status = ?, error = ?, updated_at = ? where id = ?",
            status,
            error,
            time.time(),
            job_id,
        )
        return self.job(job_id)

    def fail_run_job(self, run_id: str, error: str) -> Job | None:
        self._write(
            "update jobs set status = 'failed', error = ?, updated_at = ? "
            "where run_id = ? and status = 'running'",
            error,
            time.time(),
            run_id,
        )
        return self._job_where("run_id = ?", run_id)

    def job(self, job_id: int) -> Job | None:
        return self._job_where("id = ?", job_id)

    def jobs(self, limit: int = 50) -> list[Job]:
        rows = self._query(f"select {JOB_COLUMNS} from jobs order by id desc limit ?", limit)
        return [Job(**row) for row in rows]

    def _job_where(self, where: str, value: object) -> Job | None:
        rows = self._query(f"select {JOB_COLUMNS} from jobs where {where}", value)
        return Job(**rows[0]) if rows else None

    # --- workspace metrics ---------------------------------------------------------------

    def aggregate_metrics(self) -> int:
        return self._write(
            "insert into workspace_metrics (repo, issues, prs, embedded, computed_at) "
            "select repo, sum(case when kind = 'issue' then 1 else 0 end), "
            "sum(case when kind = 'pr' then 1 else 0 end), count(embedded_at), ? "
            "from items group by repo",
            time.time(),
        )

    def delete_metrics_before(self, cutoff: float) -> int:
        return self._write("delete from workspace_metrics where computed_at < ?", cutoff)
