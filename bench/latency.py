"""Unloaded latency: one 3-step run at a time, send → the app's end of the function.

    .venv/bin/python bench/latency.py --runs 100 --backend sqlite,postgres

For each backend, a fresh `inlet dev` (a new SQLite file, or a new database of a private
PostgreSQL server, `bench/pg.py`) with `bench/suite_app.py`; 5 warm-up runs, then `--runs`
runs of its `chain` function, each sent once the previous one ended. "end" and "first step"
are the app's own timestamps of the function's end and of its first step body, so polling
the app for them adds nothing to the figure. Prints p50/p99 per backend; the inlet logs are
kept in `--log-dir` when given. Every process listens on 127.0.0.1 and is stopped by PID.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import aiohttp
import pg
import workloads
from procs import BenchError, load_average
from stack import Stack, database_url, start_stack, temp_dir
from suite import SUITE_SLUGS

BACKENDS = ("sqlite", "postgres")


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


async def measure(backend: str, runs: int, logs: Path, cluster: pg.Cluster | None) -> dict:
    logs.mkdir(parents=True, exist_ok=True)
    url = database_url(backend, cluster, f"latency_{backend}", logs)
    stack = Stack([], logs)
    try:
        timeout = aiohttp.ClientTimeout(total=60)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            await start_stack(session, "bench.suite_app:app", SUITE_SLUGS, url, 1, logs, stack)
            return await workloads.latency(session, stack, runs)
    finally:
        stack.stop()


async def run(opts: argparse.Namespace, tmp: Path, cluster: pg.Cluster | None) -> None:
    for backend in opts.backends:
        logs = (opts.log_dir or tmp) / backend
        figures = await measure(backend, opts.runs, logs, cluster)
        print(
            f"{backend:8}  {figures['runs']} runs  "
            f"p50 {figures['latency_p50_ms']:.1f} ms  p99 {figures['latency_p99_ms']:.1f} ms  "
            f"max {figures['latency_max_ms']:.1f} ms  "
            f"first step p50 {figures['first_step_p50_ms']:.1f} ms",
            flush=True,
        )


def main(argv: list[str] | None = None) -> int:
    opts = parse(argv)
    print(f"bench/latency.py: {load_average()} at the start", flush=True)
    cluster: pg.Cluster | None = None
    try:
        if "postgres" in opts.backends:
            cluster = pg.Cluster()
            cluster.start()
        with temp_dir("inlet-latency-") as tmp:
            asyncio.run(run(opts, Path(tmp), cluster))
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    finally:
        if cluster is not None:
            cluster.stop()
    print(f"bench/latency.py: {load_average()} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
