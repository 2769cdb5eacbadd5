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
import math
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pg
from app_alone import FUNCTION_SLUG, STEPS_PER_RUN, app_alone
from procs import (
    BenchError,
    Child,
    Endpoints,
    chunks,
    cpu_of,
    get_json,
    log_problems,
    post_events,
    quiesce,
    run_main,
    supervised,
)
from runs import any_unfinished, sweep_runs
from stack import Stack, start_stack
from step_report import (
    CpuSample,
    Result,
    add_database_figures,
    median_result,
    medians,
    report_lines,
    summarise,
)

EVENT_NAME = "bench/run"
BATCH_SIZE = 100
WARMUP_RUNS = 20


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
        at = time.time()
        ids = await post_events(session, eps[k % len(eps)], body)
        sent.update((event_id, at) for event_id in ids)
    return sent


async def app_completed(session: aiohttp.ClientSession, ep: Endpoints) -> int:
    stats = await get_json(session, f"{ep.app}/stats")
    return int(stats["completed"])


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
        stack = Stack([], logs)
        monitor: pg.Monitor | None = None
        try:
            with supervised(stack.children):
                connector = aiohttp.TCPConnector(limit=64)
                timeout = aiohttp.ClientTimeout(total=30)
                async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
                    await start_stack(
                        session, "bench.app:app", (FUNCTION_SLUG,), database_url,
                        opts.processes, logs, stack, prefix=prefix,
                    )  # fmt: skip
                    app = stack.started_app
                    if cluster is not None:
                        monitor = cluster.monitor(dbname)
                    result = await measure(opts, session, stack.eps, app, stack.inlets, monitor)
                    if opts.baseline:
                        base = await app_alone(session, stack.ep, app, opts.runs)
                        result.baseline_steps_per_s = base.steps_per_s
                        result.baseline_app_cpu_us_per_step = base.app_cpu_us_per_step
                        result.baseline_calls_per_run = base.requests_per_run
                        result.efficiency = result.steps_per_s / base.steps_per_s
        finally:
            if monitor is not None:
                monitor.close()
        # After the stop, so that shutdown errors are in the logs too.
        result.notes.extend(log_problems(stack.inlets))
        return result


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
            print("  statements by PostgreSQL's time to run them (pg_stat_statements, per step):")
            print("     calls       µs  statement")
            for calls, ms, query in result.top_statements:
                per_step = ms * 1000 / steps
                print(f"    {calls / steps:6.2f}  {per_step:7.1f}  {query[:100]}", flush=True)
    if opts.repeat > 1:
        print(f"median of {opts.repeat} repeats")
        print("\n".join(report_lines(median_result(results))))
    return results


def main(argv: list[str] | None = None) -> int:
    opts = parse_options(argv)

    def run() -> list[Result]:
        with pg.running_if(opts.database == "postgres") as cluster:
            return asyncio.run(run_all(opts, cluster))

    def summary(results: list[Result]) -> dict[str, Any]:
        return {
            "runs": opts.runs,
            "database": opts.database,
            "processes": opts.processes,
            "steps_per_run": STEPS_PER_RUN,
            "repeats": [asdict(r) for r in results],
            "median": medians(results),
        }

    return run_main(run, summary if opts.json else None)


if __name__ == "__main__":
    sys.exit(main())
