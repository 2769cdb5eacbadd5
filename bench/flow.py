"""Keyed-concurrency benchmark: K keys x N runs each, with and without flow control.

    python bench/flow.py [--keys 1000] [--per-key 10] [--limit 2] [--order grouped]

Claim checked: with ``concurrency [{limit: 2, key: "event.data.k"}]`` the throughput stays
within 80% of the same workload without flow control, and no key waits more than twice
the median. Each phase (``free``: no flow control, then ``keyed``) starts its own
``bench/flow_app.py`` and ``inlet dev`` on a fresh SQLite file, on free loopback ports,
warms up, sends K x N events in batches of 100 and waits on the app's completion counter.
See bench/README.md for the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from procs import (
    BenchError,
    Child,
    chunks,
    cpu_seconds,
    get_json,
    interrupt,
    nearest_rank,
    quiesce,
    supervised,
    until,
)
from stack import Stack, start_stack

REPO = Path(__file__).resolve().parent.parent
EVENT_KEY = "benchkey"
BATCH_SIZE = 100
WARMUP_RUNS = 40
PHASES = {"free": "bench/flow-free", "keyed": "bench/flow-keyed"}
SLUGS = ("bench-flow-free", "bench-flow-keyed")


@dataclass(frozen=True)
class Options:
    keys: int
    per_key: int
    limit: int
    step_ms: float
    order: str
    timeout: float
    log_dir: Path | None


def parse_options(argv: list[str] | None = None) -> Options:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--keys", type=int, default=1000, help="distinct concurrency keys")
    p.add_argument("--per-key", type=int, default=10, help="runs per key")
    p.add_argument("--limit", type=int, default=2, help="concurrency limit per key")
    p.add_argument("--step-ms", type=float, default=10.0, help="how long each step body sleeps")
    p.add_argument(
        "--order",
        choices=("grouped", "interleaved", "shuffled"),
        default="grouped",
        help="grouped: each key's runs sent together (the per-key limit binds);\n"
        "interleaved: one run of every key, then the next round;\n"
        "shuffled: a random order (seed 1)",
    )
    p.add_argument("--timeout", type=float, default=900.0, help="deadline per phase, s")
    p.add_argument("--log-dir", type=Path, default=None, help="keep the subprocess logs there")
    a = p.parse_args(argv)
    if a.keys < 1 or a.per_key < 1 or a.limit < 1:
        p.error("--keys, --per-key and --limit must be at least 1")
    return Options(a.keys, a.per_key, a.limit, a.step_ms, a.order, a.timeout, a.log_dir)


def workload(opts: Options) -> list[tuple[int, int]]:
    """``(key, i)`` of every event, in sending order."""
    if opts.order == "grouped":
        return [(k, i) for k in range(opts.keys) for i in range(opts.per_key)]
    events = [(k, i) for i in range(opts.per_key) for k in range(opts.keys)]
    if opts.order == "shuffled":
        random.Random(1).shuffle(events)
    return events


# ---------------------------------------------------------------------------------------
# One phase


@dataclass
class Phase:
    name: str
    runs: int
    wall_s: float
    runs_per_s: float
    send_s: float
    server_cpu_us_per_run: float
    run_wait_p50_ms: float
    run_wait_p99_ms: float
    run_wait_max_ms: float
    key_wait_median_s: float
    key_wait_max_s: float
    max_key_in_flight: int

    @property
    def key_wait_ratio(self) -> float:
        return self.key_wait_max_s / max(self.key_wait_median_s, 1e-9)


async def send(
    session: aiohttp.ClientSession, inlet: str, name: str, events: list[tuple[Any, int]]
) -> dict[tuple[Any, int], float]:
    """Send ``events`` in batches; return ``(k, i)`` → when its batch was sent."""
    sent: dict[tuple[Any, int], float] = {}
    for batch in chunks(events, BATCH_SIZE):
        body = [{"name": name, "data": {"k": str(k), "i": i}} for k, i in batch]
        at = time.time()
        async with session.post(f"{inlet}/e/{EVENT_KEY}", json=body) as resp:
            text = await resp.text()
            if resp.status != 200:
                raise BenchError(f"POST /e/{EVENT_KEY} → {resp.status}: {text[:500]}")
        sent.update((e, at) for e in batch)
    return sent


async def wait_completed(
    session: aiohttp.ClientSession,
    app: str,
    fn: str,
    target: int,
    deadline: float,
    alive: list[Child],
) -> None:
    async def done() -> bool:
        return int((await get_json(session, f"{app}/stats"))[fn]) >= target

    await until(f"{target} completed {fn} runs", done, deadline, 0.1, alive)


def max_in_flight(spans: list[tuple[float, float]]) -> int:
    """The most step bodies of one key running at the same instant."""
    edges = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    best = cur = 0
    for _, delta in edges:
        cur += delta
        best = max(best, cur)
    return best


def summarise(
    name: str, sent: dict[tuple[Any, int], float], runs: list[dict[str, Any]], cpu: float
) -> Phase:
    if len(runs) != len(sent):
        raise BenchError(f"{name}: the app recorded {len(runs)} runs for {len(sent)} events")
    t0 = min(sent.values())
    wall = max(r["ended"] for r in runs) - t0
    waits = [(r["started"] - sent[(int(r["k"]), r["i"])]) * 1000 for r in runs]
    by_key: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in runs:
        by_key[r["k"]].append(r)
    first_sent: dict[str, float] = {}
    for (k, _), at in sent.items():
        first_sent[str(k)] = min(at, first_sent.get(str(k), at))
    key_waits = [max(r["ended"] for r in rs) - first_sent[k] for k, rs in by_key.items()]
    return Phase(
        name=name,
        runs=len(runs),
        wall_s=wall,
        runs_per_s=len(runs) / wall,
        send_s=max(sent.values()) - t0,
        server_cpu_us_per_run=cpu / len(runs) * 1e6,
        run_wait_p50_ms=nearest_rank(waits, 50) or 0.0,
        run_wait_p99_ms=nearest_rank(waits, 99) or 0.0,
        run_wait_max_ms=max(waits),
        key_wait_median_s=statistics.median(key_waits),
        key_wait_max_s=max(key_waits),
        max_key_in_flight=max(
            max_in_flight([(r["started"], r["step_ended"]) for r in rs]) for rs in by_key.values()
        ),
    )


async def phase(opts: Options, name: str) -> Phase:
    event = PHASES[name]
    with tempfile.TemporaryDirectory(prefix="inlet-bench-flow-") as tmp:
        logs = opts.log_dir or Path(tmp)
        logs.mkdir(parents=True, exist_ok=True)
        stack = Stack([], logs)
        app_env = {"BENCH_FLOW_LIMIT": str(opts.limit), "BENCH_FLOW_STEP_MS": str(opts.step_ms)}
        with supervised(stack.children) as children:
            connector = aiohttp.TCPConnector(limit=16)
            timeout = aiohttp.ClientTimeout(total=60)
            async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
                url = f"sqlite:///{Path(tmp) / 'inlet.db'}"
                await start_stack(
                    session, "bench.flow_app:app", SLUGS, url, 1, logs, stack,
                    prefix=f"{name}-", app_env=app_env,
                )  # fmt: skip
                ep, _, inlet = stack.pair()
                inlet_url, app_url = ep.inlet, ep.app

                warm = [(f"warm-{j % 4}", j) for j in range(WARMUP_RUNS)]
                await send(session, inlet_url, event, warm)
                deadline = time.monotonic() + 60
                await wait_completed(session, app_url, name, WARMUP_RUNS, deadline, children)
                await quiesce([inlet])

                events = workload(opts)
                cpu0 = cpu_seconds(inlet.proc.pid)
                sent = await send(session, inlet_url, event, events)
                target = WARMUP_RUNS + len(events)
                deadline = time.monotonic() + opts.timeout
                await wait_completed(session, app_url, name, target, deadline, children)
                await quiesce([inlet])
                cpu = cpu_seconds(inlet.proc.pid) - cpu0
                runs = [
                    r
                    for r in await get_json(session, f"{app_url}/runs?fn={name}")
                    if not str(r["k"]).startswith("warm-")
                ]
            return summarise(name, sent, runs, cpu)


# ---------------------------------------------------------------------------------------
# Reporting


def report(p: Phase) -> list[str]:
    return [
        f"{p.name:>5}: {p.runs} runs in {p.wall_s:.1f} s = {p.runs_per_s:.1f} runs/s"
        f"  (sending took {p.send_s:.1f} s; server CPU {p.server_cpu_us_per_run:.0f} µs/run)",
        f"       run wait (sent → step started)  p50 {p.run_wait_p50_ms:.0f} ms"
        f"  p99 {p.run_wait_p99_ms:.0f} ms  max {p.run_wait_max_ms:.0f} ms",
        f"       key wait (first sent → last run ended)  median {p.key_wait_median_s:.2f} s"
        f"  max {p.key_wait_max_s:.2f} s  max/median {p.key_wait_ratio:.2f}",
        f"       most step bodies of one key at once: {p.max_key_in_flight}",
    ]


def main(argv: list[str] | None = None) -> int:
    opts = parse_options(argv)
    # A SIGTERM must still run the finally blocks that stop the subprocesses.
    signal.signal(signal.SIGTERM, interrupt)
    print(
        f"Inlet keyed-concurrency benchmark: {opts.keys} keys x {opts.per_key} runs,"
        f" limit {opts.limit} per key, one {opts.step_ms:g} ms step per run,"
        f" order {opts.order}, {os.cpu_count()} CPUs",
        flush=True,
    )
    results: dict[str, Phase] = {}
    try:
        for name in PHASES:
            results[name] = asyncio.run(phase(opts, name))
            print("\n".join(report(results[name])), flush=True)
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    free, keyed = results["free"], results["keyed"]
    ratio = keyed.runs_per_s / free.runs_per_s
    ok_tp = ratio >= 0.8
    ok_wait = keyed.key_wait_ratio <= 2.0
    ok_limit = keyed.max_key_in_flight <= opts.limit
    print(
        f"throughput keyed / free = {ratio:.0%}  (claim ≥ 80%: {'PASS' if ok_tp else 'FAIL'})\n"
        f"keyed max/median key wait = {keyed.key_wait_ratio:.2f}"
        f"  (claim ≤ 2: {'PASS' if ok_wait else 'FAIL'}; without flow control"
        f" {free.key_wait_ratio:.2f})\n"
        f"keyed limit respected: {keyed.max_key_in_flight} ≤ {opts.limit}:"
        f" {'PASS' if ok_limit else 'FAIL'}  (without flow control: {free.max_key_in_flight})"
    )
    return 0 if ok_tp and ok_wait and ok_limit else 2


if __name__ == "__main__":
    sys.exit(main())
