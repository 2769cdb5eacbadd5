"""Timer wake-up benchmark: how late does a `step.sleep` end, measured inside the SDK app.

    python bench/timers.py [--runs 300] [--sleep 2.0] [--spread 0] [--repeat 3] [--json]

Each repeat starts `bench/time_app.py` (FastAPI + the official `inngest` SDK) and
`inlet dev` on a fresh SQLite file, as subprocesses on free loopback ports. It sends
`--runs` `bench/sleep` events, all in one request (`--spread 0`, the stressful case: every
run sleeps at about the same moment) or one request per event spread evenly over
`--spread` seconds. Each run records `time.time()` in a step (t0), sleeps `--sleep`
seconds, then records `time.time()` in a second step (t1):

    lateness = t1 - t0 - sleep

It covers the call that turns the sleep into a timer, the timer firing in the server, the
discovery call and the step running. `timer lateness` = t1 - tp - sleep leaves out the
first part: tp is when the app answered the Sleep opcode, within a millisecond or so of
when the server starts the sleep's clock. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import aiohttp
from procs import (
    Child,
    Endpoints,
    cpu_seconds,
    fmt,
    get_json,
    load_average,
    nearest_rank,
    post_events,
    run_main,
    self_cpu_seconds,
    supervised,
    until,
    wait_quiet,
)
from runs import timer_times
from stack import Stack, start_stack
from stats import field_medians

APP_MODULE = "bench.time_app:app"
EVENT_NAME = "bench/sleep"
FUNCTION_SLUGS = ("bench-time-sleeper", "bench-time-waiter")
WARMUP_RUNS = 10
WARMUP_SLEEP = 0.3
MAX_EVENTS_PER_POST = 5000


# ---------------------------------------------------------------------------------------
# Options


@dataclass(frozen=True)
class Options:
    runs: int
    sleep: float
    spread: float
    repeat: int
    json: bool
    timeout: float
    log_dir: Path | None


def parse_options(argv: list[str] | None = None) -> Options:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--runs", type=int, default=300, help="sleeping runs per repeat")
    p.add_argument("--sleep", type=float, default=2.0, help="sleep duration, s")
    p.add_argument(
        "--spread",
        type=float,
        default=0.0,
        help="0: all events in one request; S > 0: one request per event, spread over S s",
    )
    p.add_argument("--repeat", type=int, default=3, help="repeats; medians are reported")
    p.add_argument("--json", action="store_true", help="also print a JSON summary (last line)")
    p.add_argument(
        "--timeout", type=float, default=120.0, help="deadline after the last wake-up is due, s"
    )
    p.add_argument(
        "--log-dir",
        type=Path,
        default=None,
        help="keep the app's and the server's output there (default: a temp dir, deleted)",
    )
    a = p.parse_args(argv)
    if a.runs < 1 or a.repeat < 1 or a.sleep <= 0 or a.spread < 0:
        p.error("--runs and --repeat must be at least 1, --sleep positive, --spread >= 0")
    return Options(a.runs, a.sleep, a.spread, a.repeat, a.json, a.timeout, a.log_dir)


# ---------------------------------------------------------------------------------------
# Helpers


# ---------------------------------------------------------------------------------------
# One repeat


@dataclass
class Result:
    runs: int
    completed: int
    send_s: float
    window_s: float
    late_p50_ms: float | None
    late_p95_ms: float | None
    late_p99_ms: float | None
    late_max_ms: float | None
    timer_late_p50_ms: float | None
    timer_late_p95_ms: float | None
    timer_late_p99_ms: float | None
    timer_late_max_ms: float | None
    plan_p50_ms: float | None
    plan_max_ms: float | None
    t0_span_ms: float | None
    t1_span_ms: float | None
    fire_late_p50_ms: float | None
    fire_late_p99_ms: float | None
    fire_late_max_ms: float | None
    fired_to_t1_p50_ms: float | None
    fired_to_t1_p99_ms: float | None
    fired_to_t1_max_ms: float | None
    server_cpu_s: float
    server_cpu_ms_per_run: float
    server_cores: float
    server_idle_ms_per_s: float
    server_to_sleep_cpu_ms_per_run: float | None
    server_wake_cpu_ms_per_run: float | None
    app_cpu_ms_per_run: float
    bench_cpu_s: float
    notes: list[str] = field(default_factory=list)


async def send_all(
    session: aiohttp.ClientSession, ep: Endpoints, opts: Options, first: int, count: int
) -> None:
    events = [{"name": EVENT_NAME, "data": {"i": i, "sleep_s": opts.sleep}}
              for i in range(first, first + count)]  # fmt: skip
    if opts.spread <= 0:
        for k in range(0, len(events), MAX_EVENTS_PER_POST):
            await post_events(session, ep, events[k : k + MAX_EVENTS_PER_POST])
        return
    # One request per event at its slot; requests overlap if the server answers slowly.
    start = time.monotonic()
    gap = opts.spread / count
    tasks: list[asyncio.Task[list[str]]] = []
    for k, event in enumerate(events):
        delay = start + k * gap - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(post_events(session, ep, [event])))
    await asyncio.gather(*tasks)


async def counts(session: aiohttp.ClientSession, ep: Endpoints) -> tuple[int, int]:
    body = await get_json(session, f"{ep.app}/sleeps/count")
    return int(body["reached"]), int(body["done"])


async def measure(
    opts: Options, session: aiohttp.ClientSession, ep: Endpoints, app: Child, inlet: Child
) -> Result:
    children = [app, inlet]
    pid = inlet.proc.pid

    # Warm-up: first-call imports, connection pools, the timer path once.
    warm = Options(**{**asdict(opts), "spread": 0.0, "sleep": WARMUP_SLEEP})
    await send_all(session, ep, warm, -WARMUP_RUNS, WARMUP_RUNS)

    async def warm_done() -> bool:
        return (await counts(session, ep))[1] >= WARMUP_RUNS

    await until("the warm-up runs", warm_done, time.monotonic() + 60, 0.05, children)
    await asyncio.to_thread(wait_quiet, pid)

    idle0 = cpu_seconds(pid)
    await asyncio.sleep(1.0)
    idle_ms_per_s = (cpu_seconds(pid) - idle0) * 1000

    target = WARMUP_RUNS + opts.runs
    cpu0, app0, bench0 = cpu_seconds(pid), cpu_seconds(app.proc.pid), self_cpu_seconds()
    t_start = time.time()
    await send_all(session, ep, opts, 0, opts.runs)
    send_s = time.time() - t_start

    # Everyone asleep: the CPU so far is what it took to start the runs and plan the
    # sleeps; the rest is the wake-up (valid only if no timer was due yet, checked below).
    deadline = time.monotonic() + opts.spread + opts.sleep + opts.timeout
    cpu_mid: float | None = None
    mid_at = 0.0
    while True:
        for child in children:
            child.check_alive()
        reached, done = await counts(session, ep)
        if cpu_mid is None and reached >= target:
            await asyncio.to_thread(wait_quiet, pid, 0.5, 0.05)
            cpu_mid, mid_at = cpu_seconds(pid), time.time()
        if done >= target:
            break
        if time.monotonic() >= deadline:
            break
        await asyncio.sleep(0.05)
    await asyncio.to_thread(wait_quiet, pid)
    cpu1, app1, bench1 = cpu_seconds(pid), cpu_seconds(app.proc.pid), self_cpu_seconds()

    body = await get_json(session, f"{ep.app}/sleeps")
    runs = [r for r in body["runs"] if isinstance(r.get("i"), int) and r["i"] >= 0]
    # Outside the measured window: the server's own record of each timer.
    fired = await timer_times(session, ep, [str(r["run_id"]) for r in runs])
    for r in runs:
        r["fired"] = fired.get(str(r["run_id"]))
    return summarise(opts, runs, t_start, send_s, cpu0, cpu_mid, mid_at, cpu1,
                     idle_ms_per_s, app1 - app0, bench1 - bench0)  # fmt: skip


def summarise(
    opts: Options,
    runs: list[dict[str, Any]],
    t_start: float,
    send_s: float,
    cpu0: float,
    cpu_mid: float | None,
    mid_at: float,
    cpu1: float,
    idle_ms_per_s: float,
    app_cpu: float,
    bench_cpu: float,
) -> Result:
    notes: list[str] = []
    n = opts.runs
    if len(runs) < n:
        notes.append(f"only {len(runs)}/{n} runs finished before the deadline")
    late = [(r["t1"] - r["t0"] - opts.sleep) * 1000 for r in runs]
    timer_late = [(r["t1"] - r["tp"] - opts.sleep) * 1000 for r in runs if r.get("tp")]
    plan = [(r["tp"] - r["t0"]) * 1000 for r in runs if r.get("tp")]
    # The SDK sends the wake-up time itself (its clock at the sleep + the duration, in ms),
    # so the timer is due at tp + sleep, give or take a millisecond.
    timed = [r for r in runs if r.get("tp") and r.get("fired")]
    fire_late = [(r["fired"] - r["tp"] - opts.sleep) * 1000 for r in timed]
    fired_to_t1 = [(r["t1"] - r["fired"]) * 1000 for r in timed]
    if len(timed) < len(runs):
        notes.append(f"the server's history gave timer times for {len(timed)}/{len(runs)} runs")
    t0s = [r["t0"] for r in runs]
    t1s = [r["t1"] for r in runs]
    if any(x < 0 for x in late):
        notes.append(f"{sum(1 for x in late if x < 0)} runs woke EARLY (negative lateness)")
    window = max((max(t1s) if t1s else time.time()) - t_start, 1e-9)
    cpu = cpu1 - cpu0
    to_sleep: float | None = None
    wake: float | None = None
    tps = [r["tp"] for r in runs if r.get("tp")]
    if cpu_mid is not None and tps and mid_at < min(tps) + opts.sleep:
        to_sleep = (cpu_mid - cpu0) / n * 1000
        wake = (cpu1 - cpu_mid) / n * 1000
    elif opts.spread <= 0:
        notes.append("CPU not split: a timer was due before every run had reached its sleep")
    return Result(
        runs=n,
        completed=len(runs),
        send_s=send_s,
        window_s=window,
        late_p50_ms=nearest_rank(late, 50),
        late_p95_ms=nearest_rank(late, 95),
        late_p99_ms=nearest_rank(late, 99),
        late_max_ms=max(late) if late else None,
        timer_late_p50_ms=nearest_rank(timer_late, 50),
        timer_late_p95_ms=nearest_rank(timer_late, 95),
        timer_late_p99_ms=nearest_rank(timer_late, 99),
        timer_late_max_ms=max(timer_late) if timer_late else None,
        plan_p50_ms=nearest_rank(plan, 50),
        plan_max_ms=max(plan) if plan else None,
        t0_span_ms=(max(t0s) - min(t0s)) * 1000 if t0s else None,
        t1_span_ms=(max(t1s) - min(t1s)) * 1000 if t1s else None,
        fire_late_p50_ms=nearest_rank(fire_late, 50),
        fire_late_p99_ms=nearest_rank(fire_late, 99),
        fire_late_max_ms=max(fire_late) if fire_late else None,
        fired_to_t1_p50_ms=nearest_rank(fired_to_t1, 50),
        fired_to_t1_p99_ms=nearest_rank(fired_to_t1, 99),
        fired_to_t1_max_ms=max(fired_to_t1) if fired_to_t1 else None,
        server_cpu_s=cpu,
        server_cpu_ms_per_run=cpu / n * 1000,
        server_cores=cpu / window,
        server_idle_ms_per_s=idle_ms_per_s,
        server_to_sleep_cpu_ms_per_run=to_sleep,
        server_wake_cpu_ms_per_run=wake,
        app_cpu_ms_per_run=app_cpu / n * 1000,
        bench_cpu_s=bench_cpu,
        notes=notes,
    )


async def one_repeat(opts: Options, index: int) -> Result:
    with tempfile.TemporaryDirectory(prefix="inlet-timers-") as tmp:
        tmpdir = Path(tmp)
        logs = opts.log_dir or tmpdir
        logs.mkdir(parents=True, exist_ok=True)
        prefix = f"timers{index}-" if opts.log_dir else ""
        stack = Stack([], logs)
        with supervised(stack.children):
            connector = aiohttp.TCPConnector(limit=64)
            timeout = aiohttp.ClientTimeout(total=30)
            async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
                url = f"sqlite:///{tmpdir / 'inlet.db'}"
                await start_stack(
                    session, APP_MODULE, FUNCTION_SLUGS, url, 1, logs, stack, prefix=prefix
                )
                ep, app, inlet = stack.pair()
                return await measure(opts, session, ep, app, inlet)


# ---------------------------------------------------------------------------------------
# Reporting


def report_lines(r: Result, opts: Options) -> list[str]:
    lines = [
        f"  runs {r.completed}/{r.runs} finished  send {r.send_s * 1000:.0f} ms"
        f"  window {r.window_s:.2f} s (first send → last t1)",
        f"  lateness        p50 {fmt(r.late_p50_ms)}  p95 {fmt(r.late_p95_ms)}"
        f"  p99 {fmt(r.late_p99_ms)}  max {fmt(r.late_max_ms)} ms  (t1 - t0 - {opts.sleep:g} s)",
        f"  timer lateness  p50 {fmt(r.timer_late_p50_ms)}  p95 {fmt(r.timer_late_p95_ms)}"
        f"  p99 {fmt(r.timer_late_p99_ms)}  max {fmt(r.timer_late_max_ms)} ms"
        f"  (t1 - tp - {opts.sleep:g} s)",
        f"  server view     timer fired late p50 {fmt(r.fire_late_p50_ms)}"
        f"  p99 {fmt(r.fire_late_p99_ms)}  max {fmt(r.fire_late_max_ms)} ms;"
        f"  fired → t1 p50 {fmt(r.fired_to_t1_p50_ms)}  p99 {fmt(r.fired_to_t1_p99_ms)}"
        f"  max {fmt(r.fired_to_t1_max_ms)} ms",
        f"  t0 → sleep planned (tp) p50 {fmt(r.plan_p50_ms)}  max {fmt(r.plan_max_ms)} ms;"
        f"  t0 span {fmt(r.t0_span_ms, '.0f')} ms, t1 span {fmt(r.t1_span_ms, '.0f')} ms",
        f"  server CPU  {r.server_cpu_s:.2f} s  {r.server_cpu_ms_per_run:.2f} ms/run"
        f"  {r.server_cores:.2f} cores over the window  (idle {r.server_idle_ms_per_s:.0f} ms/s)",
    ]
    if r.server_to_sleep_cpu_ms_per_run is not None:
        lines.append(
            f"              to the sleep {fmt(r.server_to_sleep_cpu_ms_per_run, '.2f')} ms/run,"
            f" sleep + wake-up {fmt(r.server_wake_cpu_ms_per_run, '.2f')} ms/run"
        )
    lines.append(
        f"  app CPU     {r.app_cpu_ms_per_run:.2f} ms/run   bench CPU {r.bench_cpu_s:.2f} s"
    )
    lines.extend(f"  note: {n}" for n in r.notes)
    return lines


MEDIAN_FIELDS = tuple(f.name for f in fields(Result) if f.name not in ("runs", "notes"))


def medians(results: list[Result]) -> dict[str, float | None]:
    return field_medians(results, MEDIAN_FIELDS)


def median_result(results: list[Result]) -> Result:
    merged = {**asdict(results[0]), **medians(results)}
    merged["completed"] = min(r.completed for r in results)
    merged["notes"] = [n for r in results for n in r.notes]
    return Result(**merged)


async def run_all(opts: Options) -> list[Result]:
    how = "all at once" if opts.spread <= 0 else f"spread over {opts.spread:g} s"
    print(f"Inlet timer benchmark: {opts.runs} runs sleeping {opts.sleep:g} s, events sent "
          f"{how}, {opts.repeat} repeat(s), {os.cpu_count()} CPUs, {load_average()}",
          flush=True)  # fmt: skip
    results: list[Result] = []
    for i in range(opts.repeat):
        result = await one_repeat(opts, i + 1)
        results.append(result)
        print(f"repeat {i + 1}/{opts.repeat}  ({load_average()})")
        print("\n".join(report_lines(result, opts)), flush=True)
    if opts.repeat > 1:
        print(f"median of {opts.repeat} repeats")
        print("\n".join(report_lines(median_result(results), opts)))
    return results


def main(argv: list[str] | None = None) -> int:
    opts = parse_options(argv)

    def summary(results: list[Result]) -> dict[str, Any]:
        return {
            "benchmark": "timers",
            "runs": opts.runs,
            "sleep_s": opts.sleep,
            "spread_s": opts.spread,
            "cpus": os.cpu_count(),
            "repeats": [asdict(r) for r in results],
            "median": medians(results),
        }

    return run_main(lambda: asyncio.run(run_all(opts)), summary if opts.json else None)


if __name__ == "__main__":
    sys.exit(main())
