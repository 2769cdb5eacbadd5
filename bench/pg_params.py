"""What psycopg costs the server to send queue rows, and PostgreSQL to store them, three
ways: each column as an array (`unnest`, as statements written for many rows took them
before the sixth pass), one JSON array of rows (`jsonb_array_elements`, as postgres.sql
takes them now), and plain values (one row a statement).

Starts a throwaway PostgreSQL (tests/pgserver.py, the machine's binaries; stopped by
its PID), creates a table shaped like Inlet's queue, and inserts the same rows each way
in pipeline mode, one transaction per statement, as the store thread sends them. For
`--batch` rows per statement (1, 10 and 100 by default; values always one per
statement) it prints this process's CPU per row (`getrusage`: psycopg's adaptation and
protocol work) and the PostgreSQL backend's (`/proc/<pid>/stat`), alternating the ways
for `--repeat` rounds, and the medians.

    .venv/bin/python bench/pg_params.py [--rows 3000] [--repeat 3] [--batch 1,10,100]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import orjson
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
JSON = (
    "INSERT INTO q SELECT r->>0, r->>1, r->>2, r->>3, (r->>4)::float8, 0, (r->>5)::int4,"
    " r->>6, convert_to(r->>7, 'UTF8'), (r->>8)::float8, (r->>9)::float8,"
    " convert_to(r->>10, 'UTF8') FROM jsonb_array_elements(%s::jsonb) AS r"
    " ON CONFLICT DO NOTHING"
)
VALUES = (
    "INSERT INTO q VALUES (%s::text, %s::text, %s::text, %s::text, %s::float8, 0, %s::int4,"
    " %s::text, %s::bytea, %s::float8, %s::float8, %s::bytea) ON CONFLICT DO NOTHING"
)
WAYS = ("arrays", "json", "values")
Figure = tuple[float, float]
"""µs of CPU per row: this process's (psycopg), PostgreSQL's."""


def row(i: int, tag: str) -> tuple[Any, ...]:
    return (f"{tag}-{i}", "01KBP3SMBV03P8V9WT7X0EBQ7Z", "discovery", "step", 1764900000.123,
            1, "", b'{"data": 1}', 1764900000.123, 1764900000.123, None)  # fmt: skip


def statements(way: str, batch: int, tag: str, rows: int) -> list[tuple[str, Any]]:
    """The statements (text, parameters) that insert ``rows`` rows ``way``."""
    per = 1 if way == "values" else batch
    out: list[tuple[str, Any]] = []
    for start in range(0, rows, per):
        chunk = [row(i, tag) for i in range(start, min(start + per, rows))]
        if way == "values":
            out.append((VALUES, chunk[0]))
        elif way == "arrays":
            out.append((ARRAYS, [list(column) for column in zip(*chunk, strict=True)]))
        else:  # as rows.json_rows encodes them
            text = orjson.dumps(
                [[v.decode() if isinstance(v, bytes) else v for v in r] for r in chunk]
            ).decode()
            out.append((JSON, (text,)))
    return out


def backend_cpu_seconds(conn: psycopg.Connection[Any]) -> float:
    fields = Path(f"/proc/{conn.info.backend_pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def per_row(conn: psycopg.Connection[Any], sent: list[tuple[str, Any]], rows: int) -> Figure:
    """µs of this process's and of the backend's CPU per row, to send ``sent``."""
    cpu0, pg0 = self_cpu_seconds(), backend_cpu_seconds(conn)
    with conn.pipeline():
        cur = conn.cursor()
        for sql, args in sent:
            conn.execute("BEGIN")
            cur.execute(sql, args)
            conn.execute("COMMIT")
    client = (self_cpu_seconds() - cpu0) / rows * 1e6
    return client, (backend_cpu_seconds(conn) - pg0) / rows * 1e6


def one_round(
    conn: psycopg.Connection[Any],
    r: int,
    batches: list[int],
    rows: int,
    figures: dict[tuple[str, int], list[Figure]],
) -> None:
    for batch in batches:
        for way in WAYS:
            # Built before the clock starts: the rows are the caller's either way.
            sent = statements(way, batch, f"{way}{batch}-{r}", rows)
            client, pg = per_row(conn, sent, rows)
            figures.setdefault((way, batch), []).append((client, pg))
            print(
                f"round {r + 1} batch {batch} {way}: {client:.1f} µs of CPU per row,"
                f" PostgreSQL {pg:.1f} µs",
                flush=True,
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=3000, help="rows per way, batch and round")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; medians printed")
    parser.add_argument("--batch", default="1,10,100", help="rows per statement, comma-separated")
    opts = parser.parse_args()
    batches = [int(b) for b in opts.batch.split(",")]
    figures: dict[tuple[str, int], list[Figure]] = {}
    with tempfile.TemporaryDirectory(prefix="inlet-pgparams-") as tmp:
        server = PostgresServer(Path(tmp), fast=True)
        server.start()
        try:
            with psycopg.connect(server.create_database("params"), autocommit=True) as conn:
                conn.execute(TABLE)
                for r in range(opts.repeat):
                    one_round(conn, r, batches, opts.rows, figures)
        finally:
            server.stop()
    for batch in batches:
        line = [f"medians at {batch} rows a statement (values: 1):"]
        for way in WAYS:
            runs = figures[(way, batch)]
            client = statistics.median(c for c, _ in runs)
            pg = statistics.median(p for _, p in runs)
            line.append(f"{way} {client:.1f} µs (PostgreSQL {pg:.1f})")
        print(" ".join(line[:1]) + " " + ", ".join(line[1:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
