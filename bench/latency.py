"""Unloaded latency: one 3-step run at a time, send → the app's end of the function.

    .venv/bin/python bench/latency.py --runs 100 --backend sqlite,postgres

For each backend, a fresh `inlet dev` (a new SQLite file, or a new database of a private
PostgreSQL server, `bench/pg.py`) with `bench/suite_app.py`; 5 warm-up runs, then `--runs`
runs of its `chain` function, each sent once the previous one ended. "end" and "first step"
are the app's own timestamps of the function's end and of its first step body, so polling
the app for them adds nothing to the figure. Then the app's own floor: the same runs with
this script playing the server (the 4 call requests of a run sent one after the other
straight to the app, each with the memos so far), send of the first → the app's end. The
latency minus that floor is what the server adds. Prints p50/p99 per backend; the inlet
logs are kept in `--log-dir` when given. Every process listens on 127.0.0.1 and is stopped by PID.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import pg
import workloads
from app_alone import drive_one_run
from procs import BenchError, get_json, load_average, nearest_rank, run_main, supervised
from stack import Stack, database_url, start_stack, temp_dir
from suite import SUITE_SLUGS

BACKENDS = ("sqlite", "postgres")


CHAIN_URL = "/api/inngest?fnId=bench-suite-chain&stepId=step"


async def app_floor(
    session: aiohttp.ClientSession, stack: Stack, first: int, runs: int
) -> list[float]:
    """Per run: this script plays the server for one `chain` run, send of its first call →
    the app's record of the function's end."""
    out = []
    for i in range(first, first + runs):
        sent = time.time()
        await drive_one_run(session, stack.ep.app + CHAIN_URL, "suite/chain", i, f"floor-{i}", 3)
        ended = (await get_json(session, f"{stack.ep.app}/chain/{i}")).get("ended_at")
        if ended is None:
            raise BenchError(f"app floor: run {i} reached no end of the function")
        out.append(float(ended) - sent)
    return out


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=100, help="measured runs per backend")
    parser.add_argument(
        "--backend", default="sqlite,postgres", help="comma-separated: sqlite, postgres"
    )
    parser.add_argument("--log-dir", type=Path, default=None, help="keep the processes' logs")
    opts = parser.parse_args(argv)
    backends = tuple(b.strip() for b in opts.backend.split(",") if b.strip())
    for backend in backends:
        if backend not in BACKENDS:
            parser.error(f"--backend {backend!r} is not one of {', '.join(BACKENDS)}")
    if opts.runs < 1:
        parser.error(f"--runs {opts.runs} must be at least 1")
    opts.backends = backends
    return opts


async def measure(
    backend: str, runs: int, logs: Path, cluster: pg.Cluster | None
) -> dict[str, Any]:
    url = database_url(backend, cluster, f"latency_{backend}", logs)
    stack = Stack([], logs)
    with supervised(stack.children):
        timeout = aiohttp.ClientTimeout(total=60)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            await start_stack(session, "bench.suite_app:app", SUITE_SLUGS, url, 1, logs, stack)
            figures = await workloads.latency(session, stack, runs)
            floor = await app_floor(session, stack, 1_000_000, runs)
            figures["app_floor_p50_ms"] = (nearest_rank(floor, 50) or 0.0) * 1000
            figures["app_floor_p99_ms"] = (nearest_rank(floor, 99) or 0.0) * 1000
            return figures


async def run(opts: argparse.Namespace, tmp: Path, cluster: pg.Cluster | None) -> None:
    for backend in opts.backends:
        logs = (opts.log_dir or tmp) / backend
        logs.mkdir(parents=True, exist_ok=True)
        figures = await measure(backend, opts.runs, logs, cluster)
        print(
            f"{backend:8}  {figures['runs']} runs  "
            f"p50 {figures['latency_p50_ms']:.1f} ms  p99 {figures['latency_p99_ms']:.1f} ms  "
            f"max {figures['latency_max_ms']:.1f} ms  "
            f"first step p50 {figures['first_step_p50_ms']:.1f} ms  "
            f"app floor p50 {figures['app_floor_p50_ms']:.1f} ms "
            f"p99 {figures['app_floor_p99_ms']:.1f} ms",
            flush=True,
        )


def main(argv: list[str] | None = None) -> int:
    opts = parse(argv)
    print(f"bench/latency.py: {load_average()} at the start", flush=True)

    def measured() -> None:
        wanted = "postgres" in opts.backends
        with pg.running_if(wanted) as cluster, temp_dir("inlet-latency-") as tmp:
            asyncio.run(run(opts, Path(tmp), cluster))
        print(f"bench/latency.py: {load_average()} at the end")

    return run_main(measured)


if __name__ == "__main__":
    sys.exit(main())
