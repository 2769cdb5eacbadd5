"""The floor of W1: the least a durable executor written in Python does per step, beside
the app it calls, measured in the same run.

Issue #16 sets Inlet's CPU per step against the official SDK app's (SQLite: a quarter of
it; PostgreSQL: half, and PostgreSQL's own CPU a third). This script asks how low those
ratios can go at all in this design (an executor that calls the app over HTTP for every
step and makes each step durable before the next call) by running the smallest such
executor there is, in this process, against bench/app.py:

- the executor's own HTTP client (`inlet.executor.http.Client`, the cheapest measured in
  bench/http_clients.py) on uvloop, calls built and read with orjson;
- per run: its row and its first queue item; per step (a 206 reply): the memo, the run's
  step count, the call's queue item swapped for the next; at the end (a 200): the run's
  status and output, its queue item gone;
- one writer thread commits what is pending in one transaction (group commit), on SQLite
  (WAL, synchronous=NORMAL, as Inlet) or PostgreSQL (durable defaults, bench/pg.py);
  a call's next request goes out once its step is committed.

It does none of the rest of Inlet's work: no event API or events stored (the runs are
started here), no claims or leases, no retries, flow control, run state, history,
signatures, metrics or read model. So its CPU per step is below what any executor doing
that work could reach, and the app's CPU per step, measured in the same run, is the
baseline the ratios are taken against.

    .venv/bin/python bench/floor.py --backend sqlite,postgres --runs 1000 --repeat 3
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import orjson
import uvloop
from app_alone import EVENT_NAME, FUNCTION_SLUG, STEPS_PER_RUN, call_request
from procs import (
    HOST,
    BenchError,
    Child,
    cpu_seconds,
    fmt,
    free_port,
    load_average,
    run_main,
    self_cpu_seconds,
    start_uvicorn_app,
    supervised,
    until,
)

from inlet.executor.http import Client

SCHEMA = (
    "CREATE TABLE runs (id TEXT PRIMARY KEY, status TEXT NOT NULL, step_count INTEGER NOT NULL,"
    " event BYTEA NOT NULL, output BYTEA)",
    "CREATE TABLE memos (run_id TEXT NOT NULL, step_id TEXT NOT NULL, seq INTEGER NOT NULL,"
    " value BYTEA, PRIMARY KEY (run_id, step_id))",
    "CREATE TABLE queue (id TEXT PRIMARY KEY, run_id TEXT NOT NULL, due_at DOUBLE PRECISION)",
)


@dataclass
class Batch:
    """What one transaction writes: each list holds the parameters of one statement."""

    runs: list[tuple[Any, ...]]
    memos: list[tuple[Any, ...]]
    steps: list[tuple[Any, ...]]
    ends: list[tuple[Any, ...]]
    gone: list[tuple[Any, ...]]
    queued: list[tuple[Any, ...]]

    @classmethod
    def empty(cls) -> Batch:
        return cls([], [], [], [], [], [])


class Log(Protocol):
    def write(self, batch: Batch) -> None: ...
    def close(self) -> None: ...


# Placeholders are `?`; PostgreSQL's driver wants `%s`.
WRITES = (
    ("runs", "INSERT INTO runs (id, status, step_count, event) VALUES (?, 'RUNNING', 0, ?)"),
    ("memos", "INSERT INTO memos (run_id, step_id, seq, value) VALUES (?, ?, ?, ?)"),
    ("steps", "UPDATE runs SET step_count = step_count + 1 WHERE id = ?"),
    ("ends", "UPDATE runs SET status = 'COMPLETED', output = ? WHERE id = ?"),
    ("gone", "DELETE FROM queue WHERE id = ?"),
    ("queued", "INSERT INTO queue (id, run_id, due_at) VALUES (?, ?, ?)"),
)


class SqliteLog:
    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        for statement in SCHEMA:
            self.conn.execute(
                statement.replace("BYTEA", "BLOB").replace("DOUBLE PRECISION", "REAL")
            )

    def write(self, batch: Batch) -> None:
        self.conn.execute("BEGIN IMMEDIATE")
        for field, sql in WRITES:
            if rows := getattr(batch, field):
                self.conn.executemany(sql, rows)
        self.conn.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()


class PostgresLog:
    def __init__(self, url: str) -> None:
        import psycopg

        self.conn = psycopg.connect(url, autocommit=True)
        for statement in SCHEMA:
            self.conn.execute(statement)
        self.writes = [(field, sql.replace("?", "%s")) for field, sql in WRITES]

    def write(self, batch: Batch) -> None:
        # executemany sends its rows in pipeline mode: a round trip per statement, not per row.
        with self.conn.transaction(), self.conn.cursor() as cur:
            for field, sql in self.writes:
                if rows := getattr(batch, field):
                    cur.executemany(sql, rows)

    def close(self) -> None:
        self.conn.close()


class Writer:
    """Group commit on one thread: whatever is pending when the last transaction ended
    goes into the next."""

    def __init__(self, log: Log) -> None:
        self.log = log
        self.batch = Batch.empty()
        self.waiting: list[asyncio.Future[None]] = []
        self.wake = asyncio.Event()
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="floor-writer")
        self.commits = 0

    async def commit(self, add: Callable[[Batch], None]) -> None:
        add(self.batch)
        done = asyncio.get_running_loop().create_future()
        self.waiting.append(done)
        self.wake.set()
        await done

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self.wake.wait()
            self.wake.clear()
            batch, waiting = self.batch, self.waiting
            self.batch, self.waiting = Batch.empty(), []
            await loop.run_in_executor(self.pool, self.log.write, batch)
            self.commits += 1
            for done in waiting:
                done.set_result(None)


def _ending(output: bytes, run_id: str, item: str) -> Callable[[Batch], None]:
    def add(b: Batch) -> None:
        b.ends.append((output, run_id))
        b.gone.append((item,))

    return add


def _stepping(
    memo_row: tuple[Any, ...], gone: str, queued: tuple[Any, ...]
) -> Callable[[Batch], None]:
    def add(b: Batch) -> None:
        b.memos.append(memo_row)
        b.steps.append((memo_row[0],))
        b.gone.append((gone,))
        b.queued.append(queued)

    return add


async def one_run(client: Client, writer: Writer, url: str, i: int) -> int:
    """A run of bench/app.py's function, made durable step by step; its calls."""
    run_id = f"floor-{i:07d}"
    event = {"name": EVENT_NAME, "data": {"i": i}, "id": run_id, "ts": 1, "user": {}}
    item = f"{run_id}-0"
    raw_event = orjson.dumps(event)
    await writer.commit(
        lambda b: (b.runs.append((run_id, raw_event)), b.queued.append((item, run_id, 0.0)))
    )
    memo: dict[str, Any] = {}
    stack: list[str] = []
    for call in range(1, STEPS_PER_RUN + 3):
        body = orjson.dumps(call_request(event, run_id, memo, stack))
        reply = await client.post(url, body, {"Content-Type": "application/json"})
        if reply.status == 200:
            await writer.commit(_ending(reply.body, run_id, item))
            return call
        if reply.status != 206:
            raise BenchError(f"{run_id}: call -> {reply.status}: {reply.body[:300]!r}")
        op = orjson.loads(reply.body)[0]
        step_id, data = op["id"], op.get("data")
        memo_row = (run_id, step_id, len(stack), orjson.dumps(data))
        gone, item = item, f"{run_id}-{call}"
        queued = (item, run_id, time.time())
        await writer.commit(_stepping(memo_row, gone, queued))
        memo[step_id] = {"data": data}
        stack.append(step_id)
    raise BenchError(f"{run_id} did not finish within {STEPS_PER_RUN + 2} calls")


@dataclass(frozen=True)
class Figures:
    backend: str
    load: str
    steps_per_s: float
    floor_cpu_us_per_step: float
    app_cpu_us_per_step: float
    db_cpu_us_per_step: float | None
    commits_per_step: float

    @property
    def floor_to_app(self) -> float:
        return self.floor_cpu_us_per_step / self.app_cpu_us_per_step


async def measure(
    backend: str, opts: argparse.Namespace, log: Log, app: Child, port: int, db_pid: int | None
) -> Figures:
    runs, concurrency = opts.runs, opts.concurrency
    url = f"http://{HOST}:{port}/api/inngest?fnId={FUNCTION_SLUG}&stepId=step"
    client = Client(max_body=4 << 20, request_timeout=60.0)
    writer = Writer(log)
    committer = asyncio.create_task(writer.run())
    try:
        # Warm the app (imports, first connections) outside the measured window.
        await asyncio.gather(*(one_run(client, writer, url, -1 - i) for i in range(50)))
        sem = asyncio.Semaphore(concurrency)

        async def bounded(i: int) -> int:
            async with sem:
                return await one_run(client, writer, url, i)

        commits0 = writer.commits
        app0, db0 = cpu_seconds(app.proc.pid), cpu_seconds(db_pid) if db_pid else 0.0
        cpu0, t0 = self_cpu_seconds(), time.perf_counter()
        await asyncio.gather(*(bounded(i) for i in range(runs)))
        wall, cpu = time.perf_counter() - t0, self_cpu_seconds() - cpu0
        app_cpu = cpu_seconds(app.proc.pid) - app0
        db_cpu = cpu_seconds(db_pid) - db0 if db_pid else None
        commits = writer.commits - commits0
    finally:
        committer.cancel()
        writer.pool.shutdown()
    steps = runs * STEPS_PER_RUN
    return Figures(
        backend=backend,
        load=load_average(),
        steps_per_s=steps / wall,
        floor_cpu_us_per_step=cpu / steps * 1e6,
        app_cpu_us_per_step=app_cpu / steps * 1e6,
        db_cpu_us_per_step=None if db_cpu is None else db_cpu / steps * 1e6,
        commits_per_step=commits / steps,
    )


async def app_up(app: Child, port: int) -> None:
    async def listening() -> bool:
        try:
            _, writer = await asyncio.open_connection(HOST, port)
        except OSError:
            return False
        writer.close()
        return True

    await until(f"the app on port {port}", listening, time.monotonic() + 30.0, 0.1, [app])


def repeat_once(backend: str, opts: argparse.Namespace, tmp: Path, cluster: Any) -> Figures:
    app_port = free_port()
    with supervised() as children:
        # INNGEST_DEV points at a port nothing listens on: dev mode (no signatures) and
        # no server to register with; the script plays the server.
        app = start_uvicorn_app("bench.app:app", app_port, free_port(), tmp / f"app-{backend}.log")
        children.append(app)
        if backend == "sqlite":
            log: Log = SqliteLog(tmp / f"floor-{time.monotonic_ns()}.db")
            db_pid = None
        else:
            name = f"floor_{time.monotonic_ns()}"
            log = PostgresLog(cluster.server.create_database(name))
            db_pid = cluster.pid

        async def go() -> Figures:
            await app_up(app, app_port)
            return await measure(backend, opts, log, app, app_port, db_pid)

        try:
            return uvloop.run(go())
        finally:
            log.close()


def run(opts: argparse.Namespace) -> list[Figures]:
    backends = opts.backend.split(",")
    unknown = set(backends) - {"sqlite", "postgres"}
    if unknown:
        raise BenchError(f"--backend {','.join(sorted(unknown))}: use sqlite, postgres or both")
    results: list[Figures] = []
    with tempfile.TemporaryDirectory(prefix="inlet-floor-") as tmpdir:
        tmp = Path(tmpdir)
        import pg

        with pg.running_if("postgres" in backends) as cluster:
            for r in range(opts.repeat):
                for backend in backends:
                    figures = repeat_once(backend, opts, tmp, cluster)
                    results.append(figures)
                    print(
                        f"repeat {r + 1} {backend}: {figures.steps_per_s:,.0f} steps/s, floor "
                        f"{figures.floor_cpu_us_per_step:.0f} µs/step, app "
                        f"{figures.app_cpu_us_per_step:.0f} µs/step, database "
                        f"{fmt(figures.db_cpu_us_per_step, '.0f')} µs/step, load {figures.load}",
                        flush=True,
                    )
    return results


def summary(results: list[Figures]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    print(
        "\n| backend | steps/s | floor CPU / step, µs | app CPU / step, µs | floor / app "
        "| database CPU / step, µs | database / app | commits / step |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for backend in dict.fromkeys(f.backend for f in results):
        mine = [f for f in results if f.backend == backend]

        def med(get: Callable[[Figures], float | None], mine: list[Figures] = mine) -> float | None:
            values = [v for f in mine if (v := get(f)) is not None]
            return statistics.median(values) if values else None

        row = {
            "steps_per_s": med(lambda f: f.steps_per_s),
            "floor_cpu_us_per_step": med(lambda f: f.floor_cpu_us_per_step),
            "app_cpu_us_per_step": med(lambda f: f.app_cpu_us_per_step),
            "floor_to_app": med(lambda f: f.floor_to_app),
            "db_cpu_us_per_step": med(lambda f: f.db_cpu_us_per_step),
            "db_to_app": med(
                lambda f: (
                    None
                    if f.db_cpu_us_per_step is None
                    else f.db_cpu_us_per_step / f.app_cpu_us_per_step
                )
            ),
            "commits_per_step": med(lambda f: f.commits_per_step),
            "repeats": [asdict(f) for f in mine],
        }
        out[backend] = row
        print(
            f"| {backend} | {fmt(row['steps_per_s'], ',.0f')} "
            f"| {fmt(row['floor_cpu_us_per_step'], '.0f')} "
            f"| {fmt(row['app_cpu_us_per_step'], '.0f')} | {fmt(row['floor_to_app'], '.2f')} "
            f"| {fmt(row['db_cpu_us_per_step'], '.0f')} | {fmt(row['db_to_app'], '.2f')} "
            f"| {fmt(row['commits_per_step'], '.3f')} |"
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", default="sqlite,postgres", help="sqlite, postgres or both")
    parser.add_argument("--runs", type=int, default=1000, help="3-step runs per repeat")
    parser.add_argument("--repeat", type=int, default=3, help="repeats; medians are printed")
    parser.add_argument(
        "--concurrency", type=int, default=128, help="runs in flight (Inlet's calls in flight)"
    )
    parser.add_argument("--json", action="store_true", help="print the medians as one JSON line")
    opts = parser.parse_args(argv)
    if opts.runs < 1 or opts.repeat < 1 or opts.concurrency < 1:
        raise SystemExit("--runs, --repeat and --concurrency must be at least 1")
    figures = summary if opts.json else lambda r: (summary(r), None)[1]
    return run_main(lambda: run(opts), figures)


if __name__ == "__main__":
    sys.exit(main())
