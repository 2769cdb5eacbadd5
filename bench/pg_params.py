"""What psycopg costs the server to send one queue row: its columns as one-element
arrays (`unnest`, as a statement written for many rows takes them) against plain values.

Starts a throwaway PostgreSQL (tests/pgserver.py, the machine's binaries; stopped by
its PID), creates a table shaped like Inlet's queue, and inserts the same rows both ways
in pipeline mode, ten to a transaction, as the store thread sends them. Prints this
process's CPU per statement (`getrusage`: psycopg's adaptation and protocol work, not
PostgreSQL's), alternating the two ways for `--repeat` rounds, and the medians.

    .venv/bin/python bench/pg_params.py [--rows 3000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from procs import REPO, self_cpu_seconds

sys.path.insert(0, str(REPO / "tests"))
from pgserver import PostgresServer

TABLE = (
    "CREATE TABLE q (id text PRIMARY KEY, run_id text, kind text, step_id text, due_at float8,"
    " attempt int4, join_ int4, name text, payload bytea, rank float8, orank float8, ckeys bytea)"
)
ARRAYS = (
    "INSERT INTO q SELECT v.id, v.run_id, v.kind, v.step_id, v.due_at, 0, v.join_, v.name,"
    " v.payload, v.rank, v.orank, v.ckeys FROM unnest(%s::text[], %s::text[], %s::text[],"
    " %s::text[], %s::float8[], %s::int4[], %s::text[], %s::bytea[], %s::float8[],"
    " %s::float8[], %s::bytea[]) AS v(id, run_id, kind, step_id, due_at, join_, name,"
    " payload, rank, orank, ckeys) ON CONFLICT DO NOTHING"
)
VALUES = (
    "INSERT INTO q VALUES (%s::text, %s::text, %s::text, %s::text, %s::float8, 0, %s::int4,"
    " %s::text, %s::bytea, %s::float8, %s::float8, %s::bytea) ON CONFLICT DO NOTHING"
)


def row(i: int, way: str) -> tuple[Any, ...]:
    return (f"{way}-{i}", "run", "discovery", "step", 1.0, 1, "", b"{}", 1.0, 1.0, None)


def as_arrays(values: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple([v] for v in values)


def rows_of(way: str, round_: int) -> Callable[[int], tuple[Any, ...]]:
    """The i-th statement's parameters for ``way`` in round ``round_`` (distinct ids)."""

    def args(i: int) -> tuple[Any, ...]:
        one = row(i, f"{way}{round_}")
        return as_arrays(one) if way == "arrays" else one

    return args


def per_statement(
    conn: psycopg.Connection[Any], sql: str, args: Callable[[int], Any], n: int
) -> float:
    """µs of this process's CPU per statement, for ``n`` statements of ``args(i)``."""
    cpu0 = self_cpu_seconds()
    with conn.pipeline():
        cur = conn.cursor()
        for i in range(n):
            if i % 10 == 0:
                conn.execute("BEGIN")
            cur.execute(sql, args(i))
            if i % 10 == 9:
                conn.execute("COMMIT")
    return (self_cpu_seconds() - cpu0) / n * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=3000, help="statements per way and round")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; medians printed")
    opts = parser.parse_args()
    figures: dict[str, list[float]] = {"arrays": [], "values": []}
    with tempfile.TemporaryDirectory(prefix="inlet-pgparams-") as tmp:
        server = PostgresServer(Path(tmp), fast=True)
        server.start()
        try:
            with psycopg.connect(server.create_database("params"), autocommit=True) as conn:
                conn.execute(TABLE)
                for r in range(opts.repeat):
                    for way, sql in (("arrays", ARRAYS), ("values", VALUES)):
                        us = per_statement(conn, sql, rows_of(way, r), opts.rows)
                        figures[way].append(us)
                        print(f"round {r + 1} {way}: {us:.1f} µs of CPU per statement", flush=True)
        finally:
            server.stop()
    arrays, values = (statistics.median(figures[w]) for w in ("arrays", "values"))
    print(f"medians: arrays {arrays:.1f} µs, values {values:.1f} µs, ratio {arrays / values:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
