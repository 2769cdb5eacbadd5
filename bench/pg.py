"""PostgreSQL for the step benchmark: a throwaway durable server, a fresh migrated database
per repeat, and figures read from its statistics views and from /proc.

The server is tests/pgserver.py's `PostgresServer` (the machine's binaries, run as the
`postgres` user when we are root) with PostgreSQL's durable defaults: fsync and
synchronous commit on, as in production. Its CPU is the postmaster's process tree, so it
covers every backend plus the WAL writer, checkpointer and autovacuum.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path

import psycopg
from procs import REPO, BenchError, cpu_seconds, inlet_env

sys.path.insert(0, str(REPO / "tests"))
from pgserver import PostgresError, PostgresServer

# A backend that has gone idle publishes its counters at most PGSTAT_IDLE_INTERVAL (10 s
# in PostgreSQL 15+) later, so the views lag the work by up to that much.
STATS_SETTLE = 11.0
IDLE_WINDOW = 10.0
HOT_TABLES = ("queue", "runs", "memos", "listeners", "events")


class Cluster:
    """One durable PostgreSQL server in a fresh temp dir, shared by the repeats."""

    def __init__(self) -> None:
        # pgserver needs a dir the `postgres` user can reach: one of its own under /tmp.
        self.base_dir = Path(tempfile.mkdtemp(prefix="inlet-pg-"))
        try:
            # pg_stat_statements counts the statements inlet sends (queries per step).
            self.server = PostgresServer(
                self.base_dir,
                fast=False,
                settings={"shared_preload_libraries": "pg_stat_statements"},
            )
        except PostgresError as exc:
            shutil.rmtree(self.base_dir, ignore_errors=True)
            raise BenchError(str(exc)) from exc

    @property
    def pid(self) -> int:
        pid = self.server.pid
        if pid is None:
            raise BenchError(f"PostgreSQL is not running (log: {self.server.log_path})")
        return pid

    def start(self) -> None:
        try:
            self.server.start()
        except PostgresError as exc:
            raise BenchError(f"PostgreSQL did not start: {exc}") from exc

    def stop(self) -> None:
        """Stop the server (fast shutdown, SIGKILL as a last resort) and delete its files."""
        try:
            self.server.stop()
        except PostgresError as exc:
            print(f"stopping PostgreSQL: {exc}", file=sys.stderr)
            with contextlib.suppress(PostgresError):
                self.server.kill()
        finally:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def new_database(self, name: str) -> str:
        """Create database `name`, bring it to Inlet's schema with `inlet migrate`; its URL."""
        try:
            url = self.server.create_database(name)
        except psycopg.Error as exc:
            raise BenchError(f"CREATE DATABASE {name} failed: {exc}") from exc
        argv = [sys.executable, "-m", "inlet", "migrate", "--database-url", url]
        done = subprocess.run(
            argv, cwd=REPO, env=inlet_env(), capture_output=True, text=True, timeout=120
        )
        if done.returncode != 0:
            raise BenchError(
                f"inlet migrate exited with {done.returncode}:\n{done.stdout}{done.stderr}"
            )
        return url

    def monitor(self, dbname: str) -> Monitor:
        return Monitor(self, dbname)

    def version(self) -> str:
        with psycopg.connect(self.server.url("postgres"), autocommit=True) as conn:
            row = conn.execute("SHOW server_version").fetchone()
        return str(row[0]).split()[0] if row else "?"


@contextlib.contextmanager
def running() -> Iterator[Cluster]:
    """A started Cluster for the block, stopped by its PID and deleted when the block ends,
    however it ends. Ctrl-C and SIGTERM are ignored from then on: a second one must not
    leave the server running."""
    cluster = Cluster()
    try:
        cluster.start()
        yield cluster
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        cluster.stop()


@contextlib.contextmanager
def running_if(wanted: bool) -> Iterator[Cluster | None]:
    """:func:`running` when `wanted`, else None for the block."""
    if not wanted:
        yield None
        return
    with running() as cluster:
        yield cluster


@dataclass(frozen=True)
class DbStats:
    """Counters of one database (pg_stat_database) and of the WAL (pg_stat_wal)."""

    xact_commit: int
    xact_rollback: int
    tup_inserted: int
    tup_updated: int
    tup_deleted: int
    blks_hit: int
    blks_read: int
    wal_sync: int

    def __sub__(self, other: DbStats) -> DbStats:
        return DbStats(*(getattr(self, f.name) - getattr(other, f.name) for f in fields(self)))


@dataclass(frozen=True)
class TableUse:
    """pg_stat_user_tables for one table, cumulative since its database was created."""

    table: str
    seq_scan: int
    seq_tup_read: int
    idx_scan: int
    idx_tup_fetch: int
    live_rows: int


@dataclass(frozen=True)
class Window:
    """What PostgreSQL did for the measured batch, and while idle after it."""

    stats: DbStats
    wal_bytes: int
    idle_commits_per_s: float
    idle_cpu_ms_per_s: float
    tables: list[TableUse]
    statements: int
    """Statements inlet sent in the window (pg_stat_statements; BEGIN/COMMIT included)."""
    top: list[tuple[int, float, str]]
    """The statements that took PostgreSQL the most time: (calls, total ms, text)."""


class Monitor:
    """Reads one benchmark database's statistics over a connection to the `postgres`
    database, so that the reads are not counted in the figures they read."""

    def __init__(self, cluster: Cluster, dbname: str) -> None:
        self.cluster = cluster
        self.dbname = dbname
        self.url = cluster.server.url(dbname)
        # Autocommit: each read is its own transaction, so it sees fresh statistics.
        self.conn = psycopg.connect(cluster.server.url("postgres"), autocommit=True)
        self._start: DbStats | None = None
        self._wal_start = 0

    @property
    def pid(self) -> int:
        return self.cluster.pid

    def close(self) -> None:
        self.conn.close()

    async def start_window(self) -> None:
        """Wait until the earlier work's counters are in the views, then note them."""
        await asyncio.sleep(STATS_SETTLE)
        # The view lives where the extension is created: here, beside the other views
        # this monitor reads; it covers every database of the server.
        self.conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        self.conn.execute("SELECT pg_stat_statements_reset()")
        self._start, self._wal_start = self.stats(), self.wal_position()

    async def end_window(self) -> Window:
        """Call as soon as the batch is done (WAL is read at once); waits for the counters
        to settle, then watches IDLE_WINDOW s of idleness. About 21 s."""
        if self._start is None:
            raise RuntimeError("end_window() without start_window()")
        wal_bytes = self.wal_position() - self._wal_start
        statements, top = self.statements()
        await asyncio.sleep(STATS_SETTLE)
        end = self.stats()
        cpu0, t0 = cpu_seconds(self.pid), time.monotonic()
        await asyncio.sleep(IDLE_WINDOW)
        idle = self.stats() - end
        cpu, idle_s = cpu_seconds(self.pid) - cpu0, time.monotonic() - t0
        return Window(
            stats=end - self._start,
            wal_bytes=wal_bytes,
            idle_commits_per_s=idle.xact_commit / idle_s,
            idle_cpu_ms_per_s=cpu / idle_s * 1000,
            tables=self.table_use(),
            statements=statements,
            top=top,
        )

    def statements(self, top: int = 8) -> tuple[int, list[tuple[int, float, str]]]:
        """Statements run in this database since the window started, and those that took
        the server the most time to run (immediate: pg_stat_statements is not delayed like
        the counters)."""
        where = "dbid = (SELECT oid FROM pg_database WHERE datname = %s)"
        total = self.conn.execute(
            f"SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE {where}",
            (self.dbname,),
        ).fetchone()
        rows = self.conn.execute(
            f"SELECT calls, total_exec_time, query FROM pg_stat_statements WHERE {where} "
            "ORDER BY total_exec_time DESC LIMIT %s",
            (self.dbname, top),
        ).fetchall()
        ranked = [(int(c), float(ms), " ".join(str(q).split())) for c, ms, q in rows]
        return int(total[0]) if total else 0, ranked

    def stats(self) -> DbStats:
        row = self.conn.execute(
            "SELECT xact_commit, xact_rollback, tup_inserted, tup_updated, tup_deleted,"
            " blks_hit, blks_read, (SELECT wal_sync FROM pg_stat_wal)"
            " FROM pg_stat_database WHERE datname = %s",
            (self.dbname,),
        ).fetchone()
        if row is None:
            raise BenchError(f"pg_stat_database has no row for {self.dbname!r}")
        return DbStats(*(int(v or 0) for v in row))

    def wal_position(self) -> int:
        """The current WAL insert position in bytes (immediate, unlike the counters)."""
        row = self.conn.execute(
            "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint"
        ).fetchone()
        return int(row[0]) if row else 0

    def table_use(self) -> list[TableUse]:
        with psycopg.connect(self.url, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT relname, seq_scan, seq_tup_read, idx_scan, idx_tup_fetch, n_live_tup"
                " FROM pg_stat_user_tables WHERE relname = ANY(%s)",
                (list(HOT_TABLES),),
            ).fetchall()
        found = {str(r[0]): TableUse(str(r[0]), *(int(v or 0) for v in r[1:])) for r in rows}
        return [found[t] for t in HOT_TABLES if t in found]


def index_table(tables: list[TableUse]) -> list[str]:
    """The index-use table, one line per table."""
    lines = [
        f"  {'table':<10} {'seq scans':>10} {'rows read':>11} {'idx scans':>10}"
        f" {'rows fetched':>12} {'idx share':>9} {'live rows':>10}"
    ]
    for u in tables:
        share = u.idx_scan / max(u.idx_scan + u.seq_scan, 1)
        lines.append(
            f"  {u.table:<10} {u.seq_scan:>10} {u.seq_tup_read:>11} {u.idx_scan:>10}"
            f" {u.idx_tup_fetch:>12} {share:>9.1%} {u.live_rows:>10}"
        )
    return lines
