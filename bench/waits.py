"""Event ingest with many waiting runs: does `step.wait_for_event` make every event dearer?

    python bench/waits.py [--waiters 10000] [--match-percent 1] [--events 1000]
                          [--repeat 3] [--json]

Each repeat starts `bench/time_app.py` (FastAPI + the official `inngest` SDK) and
`inlet dev` on a fresh SQLite file, as subprocesses on free loopback ports, then:

- phase A (baseline): no run waits. Sends `--events` `bench/ping` events in batches of
  100, one request at a time, and measures the wall time of the requests and the server's
  CPU, per event.
- set-up: starts `--waiters` runs of `waiter` (events `bench/wait`, data.id = 0..N-1),
  each of which waits for `bench/ping` with `async.data.id == event.data.id` (timeout
  10 min), and waits until every one is waiting: the app has answered each run's first
  call with the WaitForEvent opcode, the server has stored a listener for each (read from
  its SQLite file) and has gone quiet, and a sample of runs reads Running over the API.
- phase B: the same `--events` pings, of which `--match-percent` % carry the id of a
  distinct waiter and the others an id nobody waits for. Same measures, then checks that
  exactly the matched waiters resumed, each with its own event.

See bench/README.md for how to read the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import aiohttp
from procs import (
    BenchError,
    Child,
    Endpoints,
    cpu_seconds_fine,
    fmt,
    get_json,
    load_average,
    nearest_rank,
    post_events,
    run_main,
    supervised,
    until,
    wait_quiet,
)
from stack import Stack, start_stack
from waiters import (
    BATCH_SIZE,
    PING_EVENT,
    SEED,
    Setup,
    create_waiters,
    stored_listeners,
    wait_counts,
)

APP_MODULE = "bench.time_app:app"
FUNCTION_SLUGS = ("bench-time-sleeper", "bench-time-waiter")
WARMUP_EVENTS = 200
NOBODY = 1_000_000_000
"""Ping ids from here up match no waiter (waiter ids are 0..N-1)."""


# ---------------------------------------------------------------------------------------
# Options


@dataclass(frozen=True)
class Options:
    waiters: int
    match_percent: float
    events: int
    repeat: int
    json: bool
    setup_timeout: float
    settle: float
    batch: int
    log_dir: Path | None


def parse_options(argv: list[str] | None = None) -> Options:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--waiters", type=int, default=10_000, help="waiting runs in phase B")
    p.add_argument(
        "--match-percent",
        type=float,
        default=1.0,
        help="share of phase B's events that resolve a waiter, %%",
    )
    p.add_argument("--events", type=int, default=1000, help="events sent in each phase")
    p.add_argument("--repeat", type=int, default=3, help="repeats; medians are reported")
    p.add_argument("--json", action="store_true", help="also print a JSON summary (last line)")
    p.add_argument(
        "--setup-timeout",
        type=float,
        default=900.0,
        help="deadline for creating the waiting runs, s",
    )
    p.add_argument(
        "--batch", type=int, default=BATCH_SIZE, help="pings per request in phases A and B"
    )
    p.add_argument(
        "--settle",
        type=float,
        default=0.0,
        help="pause between phase A and the set-up, s (the server scans the last 60 s of\n"
        "events for each new wait: 61 keeps phase A's pings out of that scan)",
    )
    p.add_argument(
        "--log-dir",
        type=Path,
        default=None,
        help="keep the app's and the server's output there (default: a temp dir, deleted)",
    )
    a = p.parse_args(argv)
    if min(a.waiters, a.events, a.repeat, a.batch) < 1 or not 0 <= a.match_percent <= 100:
        p.error("--waiters, --events, --repeat, --batch must be at least 1; --match-percent 0..100")
    return Options(
        waiters=a.waiters,
        match_percent=a.match_percent,
        events=a.events,
        repeat=a.repeat,
        json=a.json,
        setup_timeout=a.setup_timeout,
        settle=a.settle,
        batch=a.batch,
        log_dir=a.log_dir,
    )


# ---------------------------------------------------------------------------------------
# Measuring one batch of pings


@dataclass
class Phase:
    events: int
    batch: int
    wall_s: float
    ingest_us_per_event: float
    batch_p50_ms: float | None
    batch_p99_ms: float | None
    server_cpu_us_per_event: float
    server_cpu_total_us_per_event: float
    idle_ms_per_s: float


async def idle_rate(pid: int, seconds: float = 1.0) -> float:
    """The server's CPU, ms per s, while nothing is sent (a busy-polling server shows)."""
    before = cpu_seconds_fine(pid)
    await asyncio.sleep(seconds)
    return (cpu_seconds_fine(pid) - before) * 1000 / seconds


async def send_pings(
    session: aiohttp.ClientSession, ep: Endpoints, inlet: Child, ids: list[int], batch: int
) -> tuple[Phase, dict[int, float]]:
    """Send pings with these data ids, `batch` per request, one request at a time.

    Returns the measures and, per data id, the wall time its request was sent."""
    pid = inlet.proc.pid
    await asyncio.to_thread(wait_quiet, pid, 5.0)
    idle = await idle_rate(pid)
    batches: list[float] = []
    sent: dict[int, float] = {}
    cpu0, start = cpu_seconds_fine(pid), time.perf_counter()
    for k in range(0, len(ids), batch):
        body = [{"name": PING_EVENT, "data": {"id": i}} for i in ids[k : k + batch]]
        t, at = time.perf_counter(), time.time()
        await post_events(session, ep, body)
        sent.update((i, at) for i in ids[k : k + batch])
        batches.append((time.perf_counter() - t) * 1000)
    wall = time.perf_counter() - start
    cpu_ingest = cpu_seconds_fine(pid) - cpu0
    inlet.check_alive()
    # Whatever the events set off afterwards (resumed runs) counts in the total.
    await asyncio.to_thread(wait_quiet, pid, 10.0)
    cpu_total = cpu_seconds_fine(pid) - cpu0
    n = len(ids)
    phase = Phase(
        events=n,
        batch=batch,
        wall_s=wall,
        ingest_us_per_event=wall / n * 1e6,
        batch_p50_ms=nearest_rank(batches, 50),
        batch_p99_ms=nearest_rank(batches, 99),
        server_cpu_us_per_event=cpu_ingest / n * 1e6,
        server_cpu_total_us_per_event=cpu_total / n * 1e6,
        idle_ms_per_s=idle,
    )
    return phase, sent


# ---------------------------------------------------------------------------------------
# One repeat


@dataclass
class Result:
    a: Phase
    setup: Setup
    b: Phase
    matched: int
    resumed: int
    wrong: int
    resume_p50_ms: float | None
    resume_max_ms: float | None
    listeners_left: int | None
    ingest_ratio: float | None
    cpu_ratio: float | None
    notes: list[str] = field(default_factory=list)


def ping_ids(opts: Options) -> tuple[list[int], set[int]]:
    """Phase B's ping ids, shuffled, and the waiter ids among them."""
    rng = random.Random(SEED)
    matched = round(opts.events * opts.match_percent / 100)
    matched = min(matched, opts.waiters, opts.events)
    hits = rng.sample(range(opts.waiters), matched)
    ids = hits + [NOBODY + k for k in range(opts.events - matched)]
    rng.shuffle(ids)
    return ids, set(hits)


async def measure(
    opts: Options,
    session: aiohttp.ClientSession,
    ep: Endpoints,
    app: Child,
    inlet: Child,
    db_path: Path,
) -> Result:
    notes: list[str] = []
    # Warm-up: first-call imports, the event path, the database's page cache.
    warm = [NOBODY * 2 + k for k in range(WARMUP_EVENTS)]
    await send_pings(session, ep, inlet, warm, BATCH_SIZE)

    print("  phase A: pings with no waiting run", flush=True)
    baseline = [NOBODY * 3 + k for k in range(opts.events)]
    a, _ = await send_pings(session, ep, inlet, baseline, opts.batch)
    if opts.settle > 0:
        print(f"  settle: {opts.settle:g} s", flush=True)
        await asyncio.sleep(opts.settle)
    print(f"  set-up: starting {opts.waiters} waiting runs", flush=True)
    setup = await create_waiters(opts.waiters, opts.setup_timeout, session, ep, app, inlet, db_path)

    ids, expected = ping_ids(opts)
    print(f"  phase B: {len(ids)} pings, {len(expected)} of them for a waiter", flush=True)
    b, sent = await send_pings(session, ep, inlet, ids, opts.batch)

    async def all_resumed() -> bool:
        return (await wait_counts(session, ep))[1] >= len(expected)

    try:
        await until("the matched waiters to resume", all_resumed, time.monotonic() + 60, 0.1,
                    (app, inlet))  # fmt: skip
    except BenchError as exc:
        notes.append(str(exc))
    # A moment more for any run that should not resume but would.
    await asyncio.sleep(1.0)
    await asyncio.to_thread(wait_quiet, inlet.proc.pid, 5.0)
    body = await get_json(session, f"{ep.app}/waits")
    resolved = body["resolved"]
    got = {int(r["id"]) for r in resolved if isinstance(r.get("id"), int)}
    wrong = sum(1 for r in resolved if r.get("event_data_id") != r.get("id"))
    # Per resumed waiter: its ping's request sent → the app ran the code after the wait.
    resume_ms = [(float(r["at"]) - sent[r["id"]]) * 1000 for r in resolved if r.get("id") in sent]
    if got != expected:
        notes.append(
            f"resumed waiters differ from the matched ones: {len(got - expected)} unexpected, "
            f"{len(expected - got)} missing"
        )
    if wrong:
        notes.append(f"{wrong} waiters resumed with another waiter's event")
    left = stored_listeners(db_path, PING_EVENT)
    if left is not None and left != opts.waiters - len(expected):
        notes.append(f"{left} listeners left, expected {opts.waiters - len(expected)}")
    return Result(
        a=a,
        setup=setup,
        b=b,
        matched=len(expected),
        resumed=len(got & expected),
        wrong=wrong + len(got - expected),
        resume_p50_ms=nearest_rank(resume_ms, 50),
        resume_max_ms=max(resume_ms) if resume_ms else None,
        listeners_left=left,
        ingest_ratio=b.ingest_us_per_event / a.ingest_us_per_event,
        # None when phase A read no CPU at all (it should not with schedstat).
        cpu_ratio=(
            b.server_cpu_us_per_event / a.server_cpu_us_per_event
            if a.server_cpu_us_per_event > 0
            else None
        ),
        notes=notes,
    )


async def one_repeat(opts: Options, index: int) -> Result:
    with tempfile.TemporaryDirectory(prefix="inlet-waits-") as tmp:
        tmpdir = Path(tmp)
        logs = opts.log_dir or tmpdir
        logs.mkdir(parents=True, exist_ok=True)
        prefix = f"waits{index}-" if opts.log_dir else ""
        db_path = tmpdir / "inlet.db"
        stack = Stack([], logs)
        with supervised(stack.children):
            connector = aiohttp.TCPConnector(limit=16)
            timeout = aiohttp.ClientTimeout(total=60)
            async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
                url = f"sqlite:///{db_path}"
                await start_stack(
                    session, APP_MODULE, FUNCTION_SLUGS, url, 1, logs, stack, prefix=prefix
                )
                ep, app, inlet = stack.pair()
                return await measure(opts, session, ep, app, inlet, db_path)


# ---------------------------------------------------------------------------------------
# Reporting


def phase_line(label: str, p: Phase) -> str:
    return (
        f"  {label} ingest {p.ingest_us_per_event:7.0f} µs/event  (batch of {p.batch:.0f}:"
        f" p50 {fmt(p.batch_p50_ms)} ms, p99 {fmt(p.batch_p99_ms)} ms)  server CPU"
        f" {p.server_cpu_us_per_event:6.0f} µs/event ({p.server_cpu_total_us_per_event:.0f}"
        f" incl. what followed)  idle {p.idle_ms_per_s:.0f} ms/s"
    )


def report_lines(r: Result) -> list[str]:
    s = r.setup
    lines = [
        phase_line("A (no waiters)    ", r.a),
        f"  set-up  {s.waiters} waiting runs in {s.seconds:.1f} s ({s.waiters_per_s:.0f}/s),"
        f" server CPU {s.server_cpu_ms_per_waiter:.2f} ms/waiter,"
        f" app CPU {s.app_cpu_ms_per_waiter:.2f} ms/waiter",
        phase_line(f"B ({s.waiters} waiters)", r.b),
        f"  B / A   ingest time x{fmt(r.ingest_ratio, '.2f')}"
        f"   server CPU per event x{fmt(r.cpu_ratio, '.2f')}",
        f"  check   {r.resumed}/{r.matched} matched waiters resumed"
        f" (ping sent → code after the wait ran: p50 {fmt(r.resume_p50_ms, '.0f')} ms,"
        f" max {fmt(r.resume_max_ms, '.0f')} ms), {r.wrong} wrong;"
        f" listeners left {r.listeners_left if r.listeners_left is not None else '?'}",
    ]
    lines.extend(f"  note: {n}" for n in r.notes)
    return lines


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    if present and all(v == present[0] for v in present):
        return present[0]  # counts stay ints
    return statistics.median(present) if present else None


def medians(results: list[Result]) -> dict[str, Any]:
    def of(rows: list[Any], cls: type) -> dict[str, float | None]:
        return {f.name: _median([getattr(x, f.name) for x in rows]) for f in fields(cls)}

    return {
        "a": of([r.a for r in results], Phase),
        "setup": of([r.setup for r in results], Setup),
        "b": of([r.b for r in results], Phase),
        "ingest_ratio": _median([r.ingest_ratio for r in results]),
        "cpu_ratio": _median([r.cpu_ratio for r in results]),
        "resume_p50_ms": _median([r.resume_p50_ms for r in results]),
        "resume_max_ms": _median([r.resume_max_ms for r in results]),
    }


def median_result(results: list[Result]) -> Result:
    m = medians(results)
    return Result(
        a=Phase(**m["a"]),
        setup=Setup(**m["setup"]),
        b=Phase(**m["b"]),
        matched=results[0].matched,
        resumed=min(r.resumed for r in results),
        wrong=max(r.wrong for r in results),
        resume_p50_ms=m["resume_p50_ms"],
        resume_max_ms=m["resume_max_ms"],
        listeners_left=results[-1].listeners_left,
        ingest_ratio=m["ingest_ratio"],
        cpu_ratio=m["cpu_ratio"],
        notes=[n for r in results for n in r.notes],
    )


async def run_all(opts: Options) -> list[Result]:
    print(f"Inlet wait benchmark: {opts.events} pings per phase, {opts.waiters} waiters, "
          f"{opts.match_percent:g}% matching, {opts.repeat} repeat(s), {os.cpu_count()} CPUs, "
          f"{load_average()}", flush=True)  # fmt: skip
    results: list[Result] = []
    for i in range(opts.repeat):
        print(f"repeat {i + 1}/{opts.repeat}", flush=True)
        result = await one_repeat(opts, i + 1)
        results.append(result)
        print(f"repeat {i + 1}/{opts.repeat} done ({load_average()})")
        print("\n".join(report_lines(result)), flush=True)
    if opts.repeat > 1:
        print(f"median of {opts.repeat} repeats")
        print("\n".join(report_lines(median_result(results))))
    return results


def main(argv: list[str] | None = None) -> int:
    opts = parse_options(argv)

    def summary(results: list[Result]) -> dict[str, Any]:
        return {
            "benchmark": "waits",
            "waiters": opts.waiters,
            "match_percent": opts.match_percent,
            "events": opts.events,
            "cpus": os.cpu_count(),
            "repeats": [asdict(r) for r in results],
            "median": medians(results),
        }

    return run_main(lambda: asyncio.run(run_all(opts)), summary if opts.json else None)


if __name__ == "__main__":
    sys.exit(main())
