"""Step throughput benchmark: Inlet driving a real Python-SDK app, 3 steps per run.

    python bench/steps.py [--runs 1000] [--repeat 3] [--database-url URL] [--json]
    python bench/steps.py --database postgres [--processes 2]

Each repeat starts `bench/app.py` (FastAPI + the official `inngest` SDK) and `inlet dev` as
subprocesses on free loopback ports, waits for the app to be synced, warms up, then sends
`--runs` events in batches of 100 and measures until every run has completed. With
`--database postgres` it runs a durable PostgreSQL server for the repeats, a fresh
migrated database per repeat, and `--processes` inlet processes sharing it. See
bench/README.md for how to read the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pg
from procs import (
    HOST,
    BenchError,
    Child,
    Endpoints,
    cpu_seconds,
    free_port,
    get_json,
    interrupt,
    main_thread_cpu_seconds,
    self_cpu_seconds,
    start_inlet_dev,
    start_uvicorn_app,
    tail,
    until,
)

REPO = Path(__file__).resolve().parent.parent
EVENT_KEY = "benchkey"
EVENT_NAME = "bench/run"
FUNCTION_SLUG = "bench-three-steps"
STEPS_PER_RUN = 3
BATCH_SIZE = 100
WARMUP_RUNS = 20
# Enough in-flight calls to keep one app process busy, as the server's workers would.
BASELINE_CONCURRENCY = 32
TERMINAL = frozenset({"Completed", "Failed", "Cancelled"})

T = TypeVar("T")


# ---------------------------------------------------------------------------------------
# Options


@dataclass(frozen=True)
class Options:
    runs: int
    repeat: int
    database_url: str | None
    database: str
    processes: int
    json: bool
    wait: str
    timeout: float
    poll_concurrency: int
    baseline: bool
    log_dir: Path | None


def parse_options(argv: list[str] | None = None) -> Options:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--runs", type=int, default=1000, help="runs in the measured batch")
    p.add_argument("--repeat", type=int, default=3, help="repeats; medians are reported")
    p.add_argument(
        "--database-url",
        default=None,
        help="Inlet database; default: a fresh sqlite file in a temp dir per repeat",
    )
    p.add_argument(
        "--database",
        choices=("sqlite", "postgres"),
        default="sqlite",
        help="postgres: start a durable PostgreSQL server in a temp dir for the repeats,\n"
        "a fresh database per repeat (`inlet migrate`), and report its figures",
    )
    p.add_argument(
        "--processes",
        type=int,
        default=1,
        help="inlet dev processes sharing the database (>1 needs --database postgres);\n"
        "the event batches go to them in turn",
    )
    p.add_argument("--json", action="store_true", help="also print a JSON summary (last line)")
    p.add_argument(
        "--wait",
        choices=("app", "server"),
        default="app",
        help="app: wait on the app's own completion counter (no polling load on the server);\n"
        "server: poll GET /v1/events/{id}/runs for unfinished runs",
    )
    p.add_argument("--timeout", type=float, default=300.0, help="deadline for the batch, s")
    p.add_argument("--poll-concurrency", type=int, default=16, help="concurrent run look-ups")
    p.add_argument(
        "--no-baseline",
        dest="baseline",
        action="store_false",
        help="skip driving the app directly (the app-alone ceiling)",
    )
    p.add_argument(
        "--log-dir",
        type=Path,
        default=None,
        help="keep the app's and the server's output there (default: a temp dir, deleted)",
    )
    a = p.parse_args(argv)
    if a.runs < 1 or a.repeat < 1:
        p.error("--runs and --repeat must be at least 1")
    if a.processes < 1:
        p.error(f"--processes {a.processes}: expected at least 1")
    if a.processes > 1 and a.database != "postgres":
        p.error(
            f"--processes {a.processes} needs --database postgres: "
            "inlet processes share work only through PostgreSQL"
        )
    if a.database == "postgres" and a.database_url:
        p.error("--database-url is for SQLite; --database postgres starts its own server")
    return Options(
        runs=a.runs,
        repeat=a.repeat,
        database_url=a.database_url,
        database=a.database,
        processes=a.processes,
        json=a.json,
        wait=a.wait,
        timeout=a.timeout,
        poll_concurrency=a.poll_concurrency,
        baseline=a.baseline,
        log_dir=a.log_dir,
    )


# ---------------------------------------------------------------------------------------
# Processes


# ---------------------------------------------------------------------------------------
# Small async helpers


async def bounded_gather(
    items: Iterable[T], fn: Callable[[T], Awaitable[Any]], concurrency: int
) -> list[Any]:
    sem = asyncio.Semaphore(concurrency)

    async def one(item: T) -> Any:
        async with sem:
            return await fn(item)

    return await asyncio.gather(*(one(i) for i in items))


def chunks(seq: list[T], size: int) -> Iterator[list[T]]:
    for i in range(0, len(seq), size):
        yield seq[i : i + size]


_FRACTION = re.compile(r"(\.\d{6})\d+")


def parse_time(value: Any) -> float | None:
    """RFC 3339 string → epoch seconds; None for null or unparsable values."""
    if not isinstance(value, str) or not value:
        return None
    # fromisoformat takes at most microseconds; servers may send nanoseconds.
    text = _FRACTION.sub(r"\1", value.replace("Z", "+00:00"))
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile; None for an empty list."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


# ---------------------------------------------------------------------------------------
# Talking to Inlet and the app


async def wait_app_up(session: aiohttp.ClientSession, ep: Endpoints, app: Child) -> None:
    async def up() -> bool:
        async with session.get(ep.serve_url) as resp:
            return "X-Inngest-SDK" in resp.headers

    await until("the app to answer GET /api/inngest", up, time.monotonic() + 30, 0.1, [app])


async def wait_synced(session: aiohttp.ClientSession, ep: Endpoints, children: list[Child]) -> None:
    async def synced() -> bool:
        async with session.get(f"{ep.inlet}/dev") as resp:
            return resp.status == 200 and FUNCTION_SLUG in await resp.text()

    what = f"{FUNCTION_SLUG} to appear in GET /dev"
    await until(what, synced, time.monotonic() + 30, 0.1, children)


async def send_events(
    session: aiohttp.ClientSession,
    eps: list[Endpoints],
    first: int,
    count: int,
    batch_size: int = BATCH_SIZE,
) -> dict[str, float]:
    """Send `count` events in batches, to each inlet process in turn; return event id →
    wall time its batch was sent."""
    sent: dict[str, float] = {}
    for k, batch in enumerate(chunks(list(range(first, first + count)), batch_size)):
        body = [{"name": EVENT_NAME, "data": {"i": i}} for i in batch]
        ep = eps[k % len(eps)]
        at = time.time()
        async with session.post(f"{ep.inlet}/e/{EVENT_KEY}", json=body) as resp:
            text = await resp.text()
            if resp.status != 200:
                raise BenchError(f"POST /e/{EVENT_KEY} → {resp.status}: {text[:500]}")
        ids = json.loads(text).get("ids") or []
        if len(ids) != len(batch):
            raise BenchError(f"POST /e/{EVENT_KEY} returned {len(ids)} ids for {len(batch)}")
        sent.update((event_id, at) for event_id in ids)
    return sent


async def app_completed(session: aiohttp.ClientSession, ep: Endpoints) -> int:
    stats = await get_json(session, f"{ep.app}/stats")
    return int(stats["completed"])


@dataclass(frozen=True)
class Run:
    event_id: str
    status: str
    started_at: float | None
    ended_at: float | None


async def fetch_run(session: aiohttp.ClientSession, ep: Endpoints, event_id: str) -> Run | None:
    """The event's run, or None while the server has not created it yet."""
    body = await get_json(session, f"{ep.inlet}/v1/events/{event_id}/runs")
    runs = body.get("data") or []
    if not runs:
        return None
    r = runs[0]
    return Run(event_id, str(r.get("status")), parse_time(r.get("run_started_at")),
               parse_time(r.get("ended_at")))  # fmt: skip


async def sweep_runs(
    session: aiohttp.ClientSession,
    ep: Endpoints,
    event_ids: Iterable[str],
    concurrency: int,
    deadline: float,
    interval: float = 0.2,
) -> dict[str, Run]:
    """Poll only the events whose run is not finished, until all are or `deadline` passes.

    Returns the last seen run per event; events never seen finished keep their last state.
    """
    pending = set(event_ids)
    seen: dict[str, Run] = {}
    errors: list[str] = []

    async def look(event_id: str) -> None:
        try:
            run = await fetch_run(session, ep, event_id)
        except (TimeoutError, aiohttp.ClientError, BenchError) as exc:
            errors.append(str(exc) or type(exc).__name__)
            return
        if run is None:
            return
        seen[event_id] = run
        if run.status in TERMINAL and (run.ended_at is not None or run.status != "Completed"):
            pending.discard(event_id)

    while pending and time.monotonic() < deadline:
        await bounded_gather(list(pending), look, concurrency)
        if pending:
            await asyncio.sleep(interval)
    if pending and errors:
        print(f"{len(errors)} run look-ups failed; the last: {errors[-1]}", file=sys.stderr)
    return seen


async def any_unfinished(
    session: aiohttp.ClientSession, ep: Endpoints, event_ids: list[str], concurrency: int
) -> bool:
    runs = await bounded_gather(event_ids, lambda e: fetch_run(session, ep, e), concurrency)
    return any(r is None or r.status not in TERMINAL for r in runs)


async def wait_on_app(
    session: aiohttp.ClientSession,
    ep: Endpoints,
    target: int,
    event_ids: list[str],
    opts: Options,
    children: list[Child],
    stall_after: float = 15.0,
) -> str | None:
    """Wait until the app has seen `target` completed runs; None, or why it stopped short.

    Runs that fail never reach the app's counter, so when the count stops moving for
    `stall_after` s the server is asked whether any of `event_ids` is still unfinished.
    """
    deadline = time.monotonic() + opts.timeout
    last_count, last_move = -1, time.monotonic()
    while time.monotonic() < deadline:
        for child in children:
            child.check_alive()
        count = await app_completed(session, ep)
        if count >= target:
            return None
        now = time.monotonic()
        if count != last_count:
            last_count, last_move = count, now
        elif now - last_move > stall_after:
            if not await any_unfinished(session, ep, event_ids, opts.poll_concurrency):
                return f"the app saw {count}/{target} completions; the other runs ended"
            last_move = now
        await asyncio.sleep(0.05)
    return f"timed out after {opts.timeout:.0f} s with {last_count}/{target} completions"


def cpu_of(children: Iterable[Child]) -> float:
    return sum(cpu_seconds(c.proc.pid) for c in children)


async def quiesce(children: list[Child], limit: float = 3.0) -> None:
    """Wait until the process trees stop using CPU, so trailing bookkeeping is counted."""
    end = time.monotonic() + limit
    before = cpu_of(children)
    while time.monotonic() < end:
        await asyncio.sleep(0.1)
        now = cpu_of(children)
        if now - before < 0.002:
            return
        before = now


# ---------------------------------------------------------------------------------------
# App-alone baseline: the same app driven by hand-built call requests


async def drive_one_run(session: aiohttp.ClientSession, url: str, i: int) -> int:
    """Play the server for one run: discovery calls with a growing memo until a 200."""
    event = {"name": EVENT_NAME, "data": {"i": i}, "id": f"baseline-{i}", "ts": 1, "user": {}}
    memo: dict[str, Any] = {}
    stack: list[str] = []
    for request in range(1, STEPS_PER_RUN + 3):
        body = {
            "event": event,
            "events": [event],
            "steps": memo,
            "ctx": {
                "run_id": f"baseline-{i}",
                "attempt": 0,
                "disable_immediate_execution": False,
                "use_api": False,
                "stack": {"stack": stack, "current": len(stack)},
            },
            "version": -1,
            "use_api": False,
        }
        async with session.post(url, json=body) as resp:
            payload = await resp.json(content_type=None)
            if resp.status == 200:
                return request
            if resp.status != 206:
                raise BenchError(f"baseline call → {resp.status}: {str(payload)[:300]}")
        for op in payload:
            memo[op["id"]] = {"data": op.get("data")}
            stack.append(op["id"])
    raise BenchError("baseline run did not finish within the expected number of calls")


@dataclass(frozen=True)
class Baseline:
    steps_per_s: float
    app_cpu_us_per_step: float
    requests_per_run: float


async def app_alone(
    session: aiohttp.ClientSession, ep: Endpoints, app: Child, runs: int
) -> Baseline:
    url = f"{ep.serve_url}?fnId={FUNCTION_SLUG}&stepId=step"
    cpu0, t0 = cpu_seconds(app.proc.pid), time.perf_counter()
    requests = await bounded_gather(
        range(runs), lambda i: drive_one_run(session, url, i), BASELINE_CONCURRENCY
    )
    wall, cpu = time.perf_counter() - t0, cpu_seconds(app.proc.pid) - cpu0
    steps = runs * STEPS_PER_RUN
    return Baseline(steps / wall, cpu / steps * 1e6, sum(requests) / runs)


# ---------------------------------------------------------------------------------------
# One repeat


@dataclass
class Result:
    runs: int
    completed: int
    failed: int
    wall_s: float
    runs_per_s: float
    steps_per_s: float
    latency_p50_ms: float | None
    latency_p99_ms: float | None
    start_p50_ms: float | None
    server_cpu_us_per_step: float
    server_cpu_us_per_run: float
    server_cores: float
    server_idle_cpu_ms_per_s: float
    server_loop_thread_share: float
    app_cpu_us_per_step: float
    app_cores: float
    app_cpu_share: float
    bench_cpu_us_per_step: float
    baseline_steps_per_s: float | None = None
    baseline_app_cpu_us_per_step: float | None = None
    baseline_calls_per_run: float | None = None
    efficiency: float | None = None
    # PostgreSQL only; None with SQLite.
    pg_cpu_us_per_step: float | None = None
    pg_cores: float | None = None
    db_commits_per_step: float | None = None
    db_rollbacks_per_step: float | None = None
    db_rows_written_per_step: float | None = None
    db_rows_inserted_per_step: float | None = None
    db_rows_updated_per_step: float | None = None
    db_rows_deleted_per_step: float | None = None
    db_blocks_read_per_step: float | None = None
    db_cache_hit: float | None = None
    db_wal_bytes_per_step: float | None = None
    db_wal_syncs_per_step: float | None = None
    db_idle_commits_per_s: float | None = None
    pg_idle_cpu_ms_per_s: float | None = None
    index_use: list[pg.TableUse] | None = None
    db_statements_per_step: float | None = None
    top_statements: list[tuple[int, str]] | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CpuSample:
    inlet: float
    inlet_main_thread: float
    app: float
    bench: float
    postgres: float

    @staticmethod
    def take(inlets: list[Child], app: Child, pg_pid: int | None) -> CpuSample:
        return CpuSample(
            cpu_of(inlets),
            sum(main_thread_cpu_seconds(c.proc.pid) for c in inlets),
            cpu_seconds(app.proc.pid),
            self_cpu_seconds(),
            0.0 if pg_pid is None else cpu_seconds(pg_pid),
        )

    def __sub__(self, other: CpuSample) -> CpuSample:
        return CpuSample(*(getattr(self, f.name) - getattr(other, f.name) for f in fields(self)))


async def measure(
    opts: Options,
    session: aiohttp.ClientSession,
    eps: list[Endpoints],
    app: Child,
    inlets: list[Child],
    db: pg.Monitor | None,
) -> Result:
    children = [app, *inlets]
    ep = eps[0]
    pg_pid = db.pid if db else None
    # Warm-up: first-call imports, connection pools, the database's page cache; a share
    # of it for every inlet process.
    per_process = math.ceil(WARMUP_RUNS / len(eps))
    warm = await send_events(session, eps, -WARMUP_RUNS, WARMUP_RUNS, per_process)
    if problem := await wait_on_app(session, ep, WARMUP_RUNS, list(warm), opts, children):
        raise BenchError(f"warm-up failed: {problem}")
    await quiesce(inlets)

    # A server that busy-polls while idle shows here; it also inflates the batch's CPU.
    idle0 = cpu_of(inlets)
    await asyncio.sleep(1.0)
    idle_ms_per_s = (cpu_of(inlets) - idle0) * 1000
    if db:
        await db.start_window()

    before, t0 = CpuSample.take(inlets, app, pg_pid), time.time()
    sent = await send_events(session, eps, 0, opts.runs)
    notes: list[str] = []
    if opts.wait == "app":
        target = WARMUP_RUNS + opts.runs
        if problem := await wait_on_app(session, ep, target, list(sent), opts, children):
            notes.append(problem)
        await quiesce(inlets)
        cpu = CpuSample.take(inlets, app, pg_pid) - before
        # Before the look-ups below, whose reads would count as the batch's commits.
        window = await db.end_window() if db else None
        # Outside the measured window: one look-up per run for its timestamps.
        runs = await sweep_runs(session, ep, sent, opts.poll_concurrency, time.monotonic() + 60)
    else:
        deadline = time.monotonic() + opts.timeout
        runs = await sweep_runs(session, ep, sent, opts.poll_concurrency, deadline)
        await quiesce(inlets)
        cpu = CpuSample.take(inlets, app, pg_pid) - before
        window = await db.end_window() if db else None

    stats = await get_json(session, f"{ep.app}/stats")
    result = summarise(opts.runs, sent, runs, t0, cpu, idle_ms_per_s, stats)
    result.notes[:0] = notes
    if window is not None:
        add_database_figures(result, cpu, window)
    return result


def summarise(
    n: int,
    sent: dict[str, float],
    runs: dict[str, Run],
    t0: float,
    cpu: CpuSample,
    idle_ms_per_s: float,
    app_stats: dict[str, Any],
) -> Result:
    notes: list[str] = []
    completed = [r for r in runs.values() if r.status == "Completed"]
    failed = sum(1 for r in runs.values() if r.status in ("Failed", "Cancelled"))
    if len(completed) < n:
        notes.append(f"only {len(completed)}/{n} runs reported Completed by the server")
    ends = [r.ended_at for r in completed if r.ended_at is not None]
    if len(ends) == len(completed) and ends:
        end = max(ends)
    else:
        # The server's timestamps are missing: fall back to the app's own clock.
        end = float(app_stats.get("last_completed_at") or time.time())
        notes.append("wall time from the app's last completion (server ended_at missing)")
    wall = max(end - t0, 1e-9)
    latencies = [(r.ended_at - sent[r.event_id]) * 1000 for r in completed if r.ended_at]
    starts = [(r.started_at - sent[r.event_id]) * 1000 for r in completed if r.started_at]
    steps = n * STEPS_PER_RUN
    return Result(
        runs=n,
        completed=len(completed),
        failed=failed,
        wall_s=wall,
        runs_per_s=len(completed) / wall,
        steps_per_s=len(completed) * STEPS_PER_RUN / wall,
        latency_p50_ms=percentile(latencies, 50),
        latency_p99_ms=percentile(latencies, 99),
        start_p50_ms=percentile(starts, 50),
        server_cpu_us_per_step=cpu.inlet / steps * 1e6,
        server_cpu_us_per_run=cpu.inlet / n * 1e6,
        server_cores=cpu.inlet / wall,
        server_loop_thread_share=cpu.inlet_main_thread / max(cpu.inlet, 1e-9),
        server_idle_cpu_ms_per_s=idle_ms_per_s,
        app_cpu_us_per_step=cpu.app / steps * 1e6,
        app_cores=cpu.app / wall,
        app_cpu_share=cpu.app / max(cpu.app + cpu.inlet, 1e-9),
        bench_cpu_us_per_step=cpu.bench / steps * 1e6,
        notes=notes,
    )


def add_database_figures(r: Result, cpu: CpuSample, window: pg.Window) -> None:
    steps = r.runs * STEPS_PER_RUN
    s = window.stats
    r.pg_cpu_us_per_step = cpu.postgres / steps * 1e6
    r.pg_cores = cpu.postgres / r.wall_s
    r.db_commits_per_step = s.xact_commit / steps
    r.db_rollbacks_per_step = s.xact_rollback / steps
    r.db_rows_written_per_step = (s.tup_inserted + s.tup_updated + s.tup_deleted) / steps
    r.db_rows_inserted_per_step = s.tup_inserted / steps
    r.db_rows_updated_per_step = s.tup_updated / steps
    r.db_rows_deleted_per_step = s.tup_deleted / steps
    r.db_blocks_read_per_step = s.blks_read / steps
    blocks = s.blks_hit + s.blks_read
    r.db_cache_hit = s.blks_hit / blocks if blocks else None
    r.db_wal_bytes_per_step = window.wal_bytes / steps
    r.db_wal_syncs_per_step = s.wal_sync / steps
    r.db_idle_commits_per_s = window.idle_commits_per_s
    r.pg_idle_cpu_ms_per_s = window.idle_cpu_ms_per_s
    r.index_use = window.tables
    r.db_statements_per_step = window.statements / steps
    r.top_statements = window.top


# A line of `inlet`'s text or JSON log output that reports a problem.
_PROBLEM = re.compile(
    r"^\d\d:\d\d:\d\d (WARNING|ERROR|CRITICAL) |^Traceback "
    r"|\"level\": \"(warning|error|critical)\""
)


def log_problems(children: Iterable[Child]) -> list[str]:
    """A note for each log with warnings or errors in it: how many lines, and the first."""
    notes = []
    for child in children:
        try:
            lines = child.log.read_text(errors="replace").splitlines()
        except OSError:
            continue
        bad = [line for line in lines if _PROBLEM.search(line)]
        if bad:
            notes.append(
                f"{child.name} logged {len(bad)} warning/error line(s), the first: {bad[0][:300]}"
            )
    return notes


def distinct_free_ports(n: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < n:
        if (port := free_port()) not in ports:
            ports.append(port)
    return ports


async def one_repeat(opts: Options, index: int, cluster: pg.Cluster | None) -> Result:
    with tempfile.TemporaryDirectory(prefix="inlet-bench-") as tmp:
        tmpdir = Path(tmp)
        logs = opts.log_dir or tmpdir
        logs.mkdir(parents=True, exist_ok=True)
        prefix = f"repeat{index}-" if opts.log_dir else ""
        dbname = f"bench{index}"
        if cluster is not None:
            database_url = cluster.new_database(dbname)
        else:
            database_url = opts.database_url or f"sqlite:///{tmpdir / 'inlet.db'}"
        app_port, *inlet_ports = distinct_free_ports(1 + opts.processes)
        eps = [Endpoints(f"http://{HOST}:{p}", f"http://{HOST}:{app_port}") for p in inlet_ports]
        children: list[Child] = []
        inlets: list[Child] = []
        monitor: pg.Monitor | None = None
        try:
            connector = aiohttp.TCPConnector(limit=64)
            timeout = aiohttp.ClientTimeout(total=30)
            async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
                app = start_uvicorn_app(
                    "bench.app:app", app_port, inlet_ports[0], logs / f"{prefix}app.log"
                )
                children.append(app)
                # The app first: a server that finds it down retries only after its
                # poll interval (seconds).
                await wait_app_up(session, eps[0], app)
                for k, ep in enumerate(eps):
                    name = "inlet" if len(eps) == 1 else f"inlet{k + 1}"
                    port = inlet_ports[k]
                    log = logs / f"{prefix}{name}.log"
                    inlet = start_inlet_dev(port, database_url, ep.serve_url, log)
                    inlet.name = name
                    children.append(inlet)
                    inlets.append(inlet)
                    # One at a time: a sync makes the app register with the first inlet
                    # (its INNGEST_DEV), which must be up by then.
                    await wait_synced(session, ep, children)
                if cluster is not None:
                    monitor = cluster.monitor(dbname)
                result = await measure(opts, session, eps, app, inlets, monitor)
                if opts.baseline:
                    base = await app_alone(session, eps[0], app, opts.runs)
                    result.baseline_steps_per_s = base.steps_per_s
                    result.baseline_app_cpu_us_per_step = base.app_cpu_us_per_step
                    result.baseline_calls_per_run = base.requests_per_run
                    result.efficiency = result.steps_per_s / base.steps_per_s
            # Stopped first so that shutdown errors are in the logs too.
            for child in reversed(children):
                child.stop()
            result.notes.extend(log_problems(inlets))
            return result
        except BaseException:
            # Stopped first so that the logs are complete, including shutdown errors.
            for child in reversed(children):
                child.stop()
            for child in children:
                print(tail(child.log), file=sys.stderr)
            raise
        finally:
            for child in reversed(children):
                child.stop()
            if monitor is not None:
                monitor.close()


# ---------------------------------------------------------------------------------------
# Reporting


def fmt(value: float | None, spec: str = ".0f") -> str:
    return "-" if value is None else format(value, spec)


def report_lines(r: Result) -> list[str]:
    lines = [
        f"  runs {r.completed}/{r.runs} completed ({r.failed} failed)  wall {r.wall_s:.2f} s",
        f"  throughput  {r.runs_per_s:8.1f} runs/s  {r.steps_per_s:8.1f} steps/s",
        f"  latency     p50 {fmt(r.latency_p50_ms)} ms  p99 {fmt(r.latency_p99_ms)} ms"
        f"  (event sent → run ended; run started p50 {fmt(r.start_p50_ms)} ms)",
        f"  server CPU  {r.server_cpu_us_per_step:6.0f} µs/step  {r.server_cpu_us_per_run:6.0f}"
        f" µs/run  {r.server_cores:.2f} cores  (idle {r.server_idle_cpu_ms_per_s:.0f} ms/s,"
        f" main thread {r.server_loop_thread_share:.0%})",
        f"  app CPU     {r.app_cpu_us_per_step:6.0f} µs/step  {r.app_cores:.2f} cores"
        f"  app share of server+app CPU {r.app_cpu_share:.0%}",
        f"  bench CPU   {r.bench_cpu_us_per_step:6.0f} µs/step (this script: sending, waiting)",
    ]
    if r.baseline_steps_per_s is not None:
        lines.append(
            f"  app alone   {r.baseline_steps_per_s:8.1f} steps/s"
            f"  {fmt(r.baseline_app_cpu_us_per_step)} µs app CPU/step"
            f"  ({fmt(r.baseline_calls_per_run)} calls/run, driven directly, {BASELINE_CONCURRENCY}"
            " at a time)"
        )
        lines.append(f"  Inlet / app alone  {fmt(r.efficiency, '.0%')} of the app-alone steps/s")
    if r.pg_cpu_us_per_step is not None:
        lines.extend(database_lines(r))
    lines.extend(f"  note: {n}" for n in r.notes)
    return lines


def database_lines(r: Result) -> list[str]:
    both = (r.pg_cpu_us_per_step or 0) + r.server_cpu_us_per_step
    return [
        f"  PostgreSQL  {fmt(r.pg_cpu_us_per_step, '6.0f')} µs/step  {fmt(r.pg_cores, '.2f')}"
        f" cores  (server + PostgreSQL {both:.0f} µs/step)",
        f"  database    {fmt(r.db_statements_per_step, '.1f')} statements/step"
        f"  {fmt(r.db_commits_per_step, '.2f')} commits/step"
        f" ({fmt(r.db_rollbacks_per_step, '.2f')} rollbacks)"
        f"  {fmt(r.db_rows_written_per_step, '.2f')} rows written/step"
        f" (ins {fmt(r.db_rows_inserted_per_step, '.2f')},"
        f" upd {fmt(r.db_rows_updated_per_step, '.2f')},"
        f" del {fmt(r.db_rows_deleted_per_step, '.2f')})",
        f"  WAL         {fmt(r.db_wal_bytes_per_step)} B/step"
        f"  {fmt(r.db_wal_syncs_per_step, '.2f')} syncs/step"
        f"  blocks read {fmt(r.db_blocks_read_per_step, '.2f')}/step"
        f"  cache hit {fmt(r.db_cache_hit, '.1%')}",
        f"  idle after  {fmt(r.db_idle_commits_per_s, '.1f')} commits/s"
        f"  PostgreSQL {fmt(r.pg_idle_cpu_ms_per_s)} ms/s CPU"
        f"  ({pg.IDLE_WINDOW:.0f} s, inlet processes running)",
    ]


# Every measured figure; counts and notes are merged separately.
MEDIAN_FIELDS = tuple(
    f.name
    for f in fields(Result)
    if f.name not in ("runs", "completed", "failed", "notes", "index_use", "top_statements")
)


def medians(results: list[Result]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for name in MEDIAN_FIELDS:
        values = [v for r in results if (v := getattr(r, name)) is not None]
        out[name] = statistics.median(values) if values else None
    return out


def median_result(results: list[Result]) -> Result:
    m = medians(results)
    first = results[0]
    merged = {**asdict(first), **m, "notes": [n for r in results for n in r.notes]}
    merged["completed"] = min(r.completed for r in results)
    merged["failed"] = max(r.failed for r in results)
    merged["index_use"] = None
    return Result(**merged)


async def run_all(opts: Options, cluster: pg.Cluster | None) -> list[Result]:
    setup = ""
    if cluster is not None:
        setup = (f", PostgreSQL {cluster.version()} (durable), "
                 f"{opts.processes} inlet process{'es' if opts.processes > 1 else ''}")  # fmt: skip
    print(f"Inlet step benchmark: {opts.runs} runs x {STEPS_PER_RUN} steps, "
          f"{opts.repeat} repeat(s), wait={opts.wait}, {os.cpu_count()} CPUs{setup}")  # fmt: skip
    results: list[Result] = []
    for i in range(opts.repeat):
        result = await one_repeat(opts, i + 1, cluster)
        results.append(result)
        print(f"repeat {i + 1}/{opts.repeat}")
        print("\n".join(report_lines(result)), flush=True)
        if result.index_use:
            print("  index use (pg_stat_user_tables, whole repeat):")
            print("\n".join(pg.index_table(result.index_use)), flush=True)
        if result.top_statements:
            steps = result.runs * STEPS_PER_RUN
            print("  most frequent statements (pg_stat_statements, per step):")
            for calls, query in result.top_statements:
                print(f"    {calls / steps:6.2f}  {query[:110]}", flush=True)
    if opts.repeat > 1:
        print(f"median of {opts.repeat} repeats")
        print("\n".join(report_lines(median_result(results))))
    return results


def main(argv: list[str] | None = None) -> int:
    opts = parse_options(argv)
    # A SIGTERM must still run the finally blocks that stop the subprocesses.
    signal.signal(signal.SIGTERM, interrupt)
    cluster: pg.Cluster | None = None
    try:
        if opts.database == "postgres":
            cluster = pg.Cluster()
            cluster.start()
        results = asyncio.run(run_all(opts, cluster))
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        if cluster is not None:
            # A second Ctrl-C must not leave the server running.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            cluster.stop()
    if opts.json:
        summary = {
            "runs": opts.runs,
            "database": opts.database,
            "processes": opts.processes,
            "steps_per_run": STEPS_PER_RUN,
            "repeats": [asdict(r) for r in results],
            "median": medians(results),
        }
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
