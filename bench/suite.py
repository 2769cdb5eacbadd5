"""`bench/run`: every workload of issue #16 in one command, one table.

    bench/run                                   # SQLite, all workloads, medians of 3
    bench/run --backend postgres --processes 2
    bench/run --only W1,latency --runs 200 --repeat 1 --json
    bench/run --scale 0.1 --repeat 1            # every workload at a tenth of its size
    bench/run --peers                           # DBOS and Celery in the same run (bench/peers/run)

Workloads (default sizes as the issue states them; `--scale` multiplies W2-W5's):
  W1       1,000 runs x 3 sequential steps through bench/app.py (bench/steps.py's code),
           plus the app driven alone as the ceiling
  W1-TS    the same through a TypeScript v4 app with checkpointing (tests/node, inngest@4)
  latency  one 3-step run at a time, send -> the app's end of the function
  W2       one run whose step sends 500 events, each starting a 1-step run
  W3       300 runs sleeping 2 s then a step, spread over 10 s: wake-up lateness
  W4       events/s, single-event requests (32 keep-alive clients) and batches of 100,
           10 functions listening
  W5       a backlog of 1,000, 10,000 then 100,000 queued runs (a function throttled to
           one start per 24 h): claim latency of a probe run and server memory at each
Every server (Inlet, the apps, PostgreSQL) listens on 127.0.0.1 and is stopped by its
PID, also on failure and Ctrl-C. bench/README.md says how to read the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pg
import report
import steps
import ts_chain
import workloads
from procs import load_average, log_problems, run_main, supervised
from stack import Stack, database_url, start_stack

REPO = Path(__file__).resolve().parent.parent
PEERS = REPO / "bench" / "peers" / "run"
WORKLOADS = ("W1", "W1-TS", "latency", "W2", "W3", "W4", "W5")
SUITE_WORKLOADS = ("latency", "W2", "W3", "W4")
SUITE_SLUGS = ("bench-suite-chain", "bench-suite-sleeper", "bench-suite-listen-9")
PEER_NAMES = ("dbos-sqlite", "dbos-postgres", "celery")
PEER_WORKLOADS = {"W1": "w1", "W3": "w3", "latency": "latency"}
W5_PROBES = 100  # claim latency probes per backlog level, after 5 warm-ups

Figures = dict[str, Any]


@dataclass(frozen=True)
class Options:
    backend: str
    processes: int
    runs: int
    scale: float
    repeat: int
    only: tuple[str, ...]
    json: bool
    peers: bool
    baseline: bool
    log_dir: Path | None

    def scaled(self, n: float) -> int:
        return max(1, round(n * self.scale))

    @property
    def latency_runs(self) -> int:
        return min(self.runs, 200)


def parse_only(value: str) -> tuple[str, ...]:
    names = {w.lower(): w for w in WORKLOADS}
    chosen = []
    for raw in value.split(","):
        name = names.get(raw.strip().lower())
        if name is None:
            raise argparse.ArgumentTypeError(
                f"{raw.strip()!r} is not a workload; choose from {','.join(WORKLOADS)}"
            )
        chosen.append(name)
    return tuple(w for w in WORKLOADS if w in chosen)


def parse_options(argv: list[str] | None = None) -> Options:
    p = argparse.ArgumentParser(
        prog="bench/run", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    p.add_argument(
        "--processes", type=int, default=1, help="inlet processes on one database (postgres)"
    )
    p.add_argument(
        "--runs",
        type=int,
        default=1000,
        help="runs of W1 and W1-TS (1000); the latency workload runs min(N, 200)",
    )
    p.add_argument(
        "--scale", type=float, default=1.0, help="multiplies the sizes of W2, W3, W4 and W5 (1.0)"
    )
    p.add_argument("--repeat", type=int, default=3, help="repeats; the table shows medians (3)")
    p.add_argument(
        "--only",
        type=parse_only,
        default=WORKLOADS,
        help=f"comma-separated workloads, of {','.join(WORKLOADS)} (all)",
    )
    p.add_argument("--json", action="store_true", help="also print one JSON line (the last)")
    p.add_argument(
        "--peers", action="store_true", help="run bench/peers/run for W1, W3 and latency too"
    )
    p.add_argument(
        "--no-baseline",
        dest="baseline",
        action="store_false",
        help="W1: skip driving the app alone (the ceiling)",
    )
    p.add_argument("--log-dir", type=Path, default=None, help="keep every process's log there")
    a = p.parse_args(argv)
    if a.runs < 1 or a.repeat < 1:
        p.error(f"--runs {a.runs} --repeat {a.repeat}: both must be at least 1")
    if not 0 < a.scale <= 10:
        p.error(f"--scale {a.scale}: expected a factor above 0 and at most 10, e.g. 0.1")
    if a.processes < 1:
        p.error(f"--processes {a.processes}: expected at least 1")
    if a.processes > 1 and a.backend != "postgres":
        p.error(
            f"--processes {a.processes} needs --backend postgres: "
            "inlet processes share work only through PostgreSQL"
        )
    return Options(
        a.backend, a.processes, a.runs, a.scale, a.repeat, a.only, a.json, a.peers,
        a.baseline, a.log_dir,
    )  # fmt: skip


# ---------------------------------------------------------------------------------------
# One repeat of each workload


def w1_figures(r: steps.Result) -> Figures:
    """bench/steps.py's result under the keys the table, the JSON and the peers share."""
    return {
        "runs": r.runs,
        "completed": r.completed,
        "runs_per_s": r.runs_per_s,
        "steps_per_s": r.steps_per_s,
        "latency_p50_ms": r.latency_p50_ms,
        "latency_p99_ms": r.latency_p99_ms,
        "cpu_us_per_step": r.server_cpu_us_per_step,
        "app_cpu_us_per_step": r.app_cpu_us_per_step,
        "server_and_app_cpu_us_per_step": r.server_cpu_us_per_step + r.app_cpu_us_per_step,
        "db_cpu_us_per_step": r.pg_cpu_us_per_step,
        "statements_per_step": r.db_statements_per_step,
        "commits_per_step": r.db_commits_per_step,
        "app_alone_steps_per_s": r.baseline_steps_per_s,
        "app_alone_cpu_us_per_step": r.baseline_app_cpu_us_per_step,
        "of_app_alone": r.efficiency,
        "notes": r.notes,
    }


async def w1(opts: Options, index: int, cluster: pg.Cluster | None) -> Figures:
    sopts = steps.Options(
        runs=opts.runs, repeat=1, database_url=None, database=opts.backend,
        processes=opts.processes, json=False, wait="app", timeout=300.0, poll_concurrency=16,
        baseline=opts.baseline, log_dir=opts.log_dir / f"w1-{index}" if opts.log_dir else None,
    )  # fmt: skip
    return w1_figures(await steps.one_repeat(sopts, index, cluster))


async def on_suite_stack(
    opts: Options,
    name: str,
    cluster: pg.Cluster | None,
    tmp: Path,
    chosen: tuple[str, ...],
) -> dict[str, Figures]:
    """The chosen workloads, in order, on one stack: bench/suite_app.py and `inlet dev` on a
    fresh database called `name`."""
    logs = opts.log_dir / name if opts.log_dir else tmp / name
    logs.mkdir(parents=True, exist_ok=True)
    url = database_url(opts.backend, cluster, name, tmp)
    stack = Stack([], logs)
    out: dict[str, Figures] = {}
    with supervised(stack.children):
        connector = aiohttp.TCPConnector(limit=64)
        timeout = aiohttp.ClientTimeout(total=60)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            module = "bench.suite_app:app"
            await start_stack(session, module, SUITE_SLUGS, url, opts.processes, logs, stack)
            if "latency" in chosen:
                out["latency"] = await workloads.latency(session, stack, opts.latency_runs)
            if "W2" in chosen:
                out["W2"] = await workloads.fan_out(session, stack, opts.scaled(500))
            if "W3" in chosen:
                runs, spread = opts.scaled(300), 10.0 * min(opts.scale, 1.0)
                out["W3"] = await workloads.timers(session, stack, runs, spread, 2.0)
            if "W4" in chosen:
                singles, batches = opts.scaled(4000), opts.scaled(200)
                out["W4"] = await workloads.ingest(session, stack, singles, batches, 32)
            if "W5" in chosen:
                levels = [opts.scaled(n) for n in (1_000, 10_000, 100_000)]
                out["W5"] = await workloads.backlog(session, stack, levels, W5_PROBES)
    notes = log_problems(stack.inlets)
    for figures in out.values():
        figures["notes"] = notes
    return out


async def one_repeat(opts: Options, index: int, cluster: pg.Cluster | None) -> dict[str, Figures]:
    out: dict[str, Figures] = {}
    if "W1" in opts.only:
        out["W1"] = await w1(opts, index, cluster)
    if "W1-TS" in opts.only:
        url_of: Callable[[Path], str] = lambda tmp: database_url(  # noqa: E731
            opts.backend, cluster, f"ts{index}", tmp
        )
        out["W1-TS"] = await ts_chain.run(opts.runs, opts.processes, url_of, opts.log_dir)
    # W5 gets a stack of its own: its memory figures must not carry W4's runs, and its
    # backlog stays queued.
    for name, chosen in ((f"suite{index}", SUITE_WORKLOADS), (f"backlog{index}", ("W5",))):
        if any(w in opts.only for w in chosen):
            with tempfile.TemporaryDirectory(prefix="inlet-bench-suite-") as tmp:
                mine = tuple(w for w in chosen if w in opts.only)
                out.update(await on_suite_stack(opts, name, cluster, Path(tmp), mine))
    return out


# ---------------------------------------------------------------------------------------
# Peers


def run_peers(
    opts: Options, cluster: pg.Cluster | None, index: int
) -> tuple[dict[str, Figures], str | None]:
    """bench/peers/run for each peer and each of W1, W3 and latency that was chosen:
    peer/workload -> its figures, and why nothing ran (None when something did)."""
    if not os.access(PEERS, os.X_OK):
        return {}, (
            f"bench/peers/run is missing ({PEERS} is not an executable file): "
            "the peers (DBOS, Celery) were not run"
        )
    results: dict[str, Figures] = {}
    for workload in (w for w in opts.only if w in PEER_WORKLOADS):
        runs = opts.latency_runs if workload == "latency" else opts.runs
        if workload == "W3":
            runs = opts.scaled(300)
        for peer in PEER_NAMES:
            argv = [str(PEERS), "--peer", peer, "--workload", PEER_WORKLOADS[workload]]
            argv += ["--runs", str(runs), "--json"]
            if peer == "dbos-postgres" and cluster is not None:
                argv += ["--pg-url", cluster.server.create_database(f"peer{index}_{len(results)}")]
            key = f"{peer}/{workload}"
            print(f"peer {key} ...", file=sys.stderr, flush=True)
            try:
                done = subprocess.run(argv, capture_output=True, text=True, timeout=900, cwd=REPO)
            except subprocess.TimeoutExpired:
                results[key] = {"error": "timed out after 900 s"}
                continue
            last = (done.stdout.strip().splitlines() or [""])[-1]
            try:
                figures = json.loads(last)
            except json.JSONDecodeError:
                figures = {"error": f"exit {done.returncode}: {done.stderr.strip()[-300:]}"}
            results[key] = figures if isinstance(figures, dict) else {"error": last[:300]}
    return results, None


# ---------------------------------------------------------------------------------------
# Main


def medians(repeats: list[dict[str, Figures]]) -> dict[str, Figures]:
    out: dict[str, Figures] = {}
    for workload in WORKLOADS:
        rows = [r[workload] for r in repeats if workload in r]
        if not rows:
            continue
        merged: Figures = {}
        for key in rows[0]:
            values = [v for row in rows if isinstance(v := row.get(key), int | float)]
            if key == "notes":
                merged[key] = sorted({n for row in rows for n in row.get(key) or []})
            else:
                merged[key] = statistics.median(values) if values else None
        out[workload] = merged
    return out


@dataclass
class Run:
    """Every repeat's figures: Inlet's, and the peers' measured right after them."""

    inlet: list[dict[str, Figures]]
    peers: list[dict[str, Figures]]
    peers_missing: str | None = None


async def run_repeats(
    opts: Options, inlet_cluster: pg.Cluster | None, peer_cluster: pg.Cluster | None
) -> Run:
    run = Run([], [])
    for i in range(opts.repeat):
        print(f"repeat {i + 1}/{opts.repeat}: {', '.join(opts.only)}", file=sys.stderr, flush=True)
        run.inlet.append(await one_repeat(opts, i + 1, inlet_cluster))
        # Each repeat's figures as soon as it ends, so an interrupted run leaves them.
        print(f"repeat {i + 1}: {json.dumps(run.inlet[-1])}", file=sys.stderr, flush=True)
        if opts.peers:
            # In every repeat, so that Inlet and the peers see the same load.
            peers, run.peers_missing = run_peers(opts, peer_cluster, i + 1)
            run.peers.append(peers)
    return run


def peer_medians(repeats: list[dict[str, Figures]]) -> dict[str, Figures]:
    """peer/workload -> the median of each numeric figure over the repeats (errors kept)."""
    out: dict[str, Figures] = {}
    for key in sorted({k for r in repeats for k in r}):
        rows = [r[key] for r in repeats if key in r]
        merged: Figures = {}
        for name in sorted({n for row in rows for n in row}):
            values = [v for row in rows if isinstance(v := row.get(name), int | float)]
            if values:
                merged[name] = statistics.median(values)
            elif name == "error":
                merged[name] = "; ".join(sorted({str(row[name]) for row in rows if name in row}))
        out[key] = merged
    return out


def main(argv: list[str] | None = None) -> int:
    opts = parse_options(argv)
    header = (
        f"bench/run: backend {opts.backend}, {opts.processes} inlet process(es), "
        f"{opts.repeat} repeat(s), {os.cpu_count()} CPUs, {load_average()} at the start"
    )

    def run() -> Run:
        # The peers' dbos-postgres gets a database of this server too.
        with pg.running_if(opts.backend == "postgres" or opts.peers) as cluster:
            # Inlet uses the server only on --backend postgres.
            inlet_cluster = cluster if opts.backend == "postgres" else None
            return asyncio.run(run_repeats(opts, inlet_cluster, cluster))

    def report_tables(run: Run) -> Figures | None:
        table, peers = medians(run.inlet), peer_medians(run.peers)
        print(header)
        print(f"{load_average()} at the end")
        print("\n".join(report.table(table, opts.backend, opts.repeat)))
        if opts.peers:
            print("\n".join(report.peer_table(table, peers, run.peers_missing)))
        if not opts.json:
            return None
        return {
            "backend": opts.backend,
            "processes": opts.processes,
            "runs": opts.runs,
            "scale": opts.scale,
            "load": load_average(),
            "median": table,
            "repeats": run.inlet,
            "peers": peers,
            "peer_repeats": run.peers,
            "peers_missing": run.peers_missing,
        }

    return run_main(run, report_tables)


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(main())
