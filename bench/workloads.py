"""`bench/run`'s workloads on `bench/suite_app.py`: unloaded latency, W2 fan-out, W3
timers, W4 ingest, W5 backlog. Each takes a started `Stack` and returns its figures as a dict whose
keys are the ones the table, the JSON and the peers share (`latency_p50_ms`, ...).

Times are `time.time()` on this machine, read by this script (sends) and by the app
(what a function saw), so both clocks are the same clock.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
from procs import BenchError, get_json, nearest_rank, post_events, self_cpu_seconds, wait_quiet
from runs import fetch_run, timer_times
from stack import Stack
from stats import median_interval

Figures = dict[str, float | int | None]

POLL_S = 0.002  # latency: how often the server is asked whether a run is recorded complete
LONG_POLL_S = 30.0  # latency: the longest one run may take
DEADLINE_S = 120.0  # the longest any wait for the app may take


def ms(values: list[float], q: float) -> float | None:
    p = nearest_rank(values, q)
    return None if p is None else p * 1000


async def settle(stack: Stack) -> None:
    """Until the inlet processes use (almost) no CPU, at most 3 s: the last workload's
    tail must not be measured as this one's."""
    for child in stack.inlets:
        await asyncio.to_thread(wait_quiet, child.proc.pid)


async def poll(
    what: str, check: Any, stack: Stack, deadline_s: float = DEADLINE_S, every: float = 0.05
) -> Any:
    """`await check()` until it returns something other than None; fail at the deadline."""
    end = time.monotonic() + deadline_s
    while True:
        for child in stack.children:
            child.check_alive()
        if (value := await check()) is not None:
            return value
        if time.monotonic() >= end:
            raise BenchError(f"timed out after {deadline_s:.0f} s waiting for {what}")
        await asyncio.sleep(every)


async def probe(
    session: aiohttp.ClientSession, stack: Stack, first: int, runs: int
) -> tuple[list[float], list[float]]:
    """`runs` 3-step runs of `chain`, one at a time (event data `i` from `first` on): per
    run, send → its first step body starts, and send → the app's end of the function. The
    next run is sent once the server has recorded this one completed (as the peers' next
    run starts once the last one's result is in): sent at the app's end, it would wait for
    the server's final write of the one before."""
    ep = stack.ep
    starts: list[float] = []
    ends: list[float] = []
    for i in range(first, first + runs):
        sent = time.time()
        [event_id] = await post_events(session, ep, [{"name": "suite/chain", "data": {"i": i}}])

        # One request parked at the app until the run ends: a poll of the app or the server
        # meanwhile would compete with the run for their CPU.
        body = await get_json(session, f"{ep.app}/chain/{i}?wait={LONG_POLL_S}")
        start, end = body.get("first_step_at"), body.get("ended_at")
        if start is None or end is None:
            raise BenchError(f"chain run {i} did not end within {LONG_POLL_S:.0f} s: {body}")
        starts.append(float(start) - sent)
        ends.append(float(end) - sent)

        async def recorded(event_id: str = event_id) -> bool | None:
            run = await fetch_run(session, ep, event_id)
            return True if run is not None and run.status == "Completed" else None

        await poll(f"chain run {i}", recorded, stack, 30, POLL_S)
    return starts, ends


async def latency(session: aiohttp.ClientSession, stack: Stack, runs: int) -> Figures:
    """One 3-step run at a time: send → the app's end of the function (the call whose
    answer completes the run), after 5 warm-up runs."""
    await probe(session, stack, -5, 5)
    starts, ends = await probe(session, stack, 0, runs)
    return {
        "runs": runs,
        "latency_p50_ms": ms(ends, 50),
        "latency_p99_ms": ms(ends, 99),
        "latency_max_ms": ms(ends, 100),
        "first_step_p50_ms": ms(starts, 50),
    }


async def backlog(
    session: aiohttp.ClientSession, stack: Stack, levels: list[int], probes: int, warmups: int = 5
) -> Figures:
    """W5: grow a backlog of queued runs of `backlog` (throttled to one start per 24 h, so
    every run after the first waits in the queue, its start delayed) through the event API
    in batches of 1,000; at each level, once the server is quiet, `warmups` then `probes`
    3-step runs of another function one at a time: claim latency = send → its first step
    body starts at the app (p50, p90, p99 and the 95% interval of the p50); and the inlet
    processes' resident memory. Enough probes that the p50's interval is narrower than the
    20% the target compares (a p50 of 20 moves by more than that from sample to sample)."""
    figures: Figures = {}
    queued = 0
    next_i = 1_000_000  # probe runs' data `i`: one counter, so no level reuses another's
    ids: list[str] = []
    for level in levels:
        while queued < level:
            n = min(1000, level - queued)
            ids = await post_events(session, stack.ep, [{"name": "suite/backlog"}] * n)
            queued += n

        async def created(last: str = ids[-1]) -> bool | None:
            body = await get_json(session, f"{stack.ep.inlet}/v1/events/{last}/runs")
            return True if body.get("data") else None

        await poll(f"the run of backlog event {ids[-1]}", created, stack, DEADLINE_S, 0.2)
        await settle(stack)
        # Warm-ups at every level: the first calls after the backlog's inserts are slower.
        await probe(session, stack, next_i, warmups)
        starts, _ = await probe(session, stack, next_i + warmups, probes)
        next_i += warmups + probes
        interval = median_interval(starts)
        figures[f"claim_p50_ms_at_{level}"] = ms(starts, 50)
        figures[f"claim_p90_ms_at_{level}"] = ms(starts, 90)
        figures[f"claim_p99_ms_at_{level}"] = ms(starts, 99)
        figures[f"claim_p50_low_ms_at_{level}"] = None if interval is None else interval[0] * 1000
        figures[f"claim_p50_high_ms_at_{level}"] = None if interval is None else interval[1] * 1000
        figures[f"rss_mb_at_{level}"] = stack.inlet_rss_mb()
    figures["probes"] = probes
    return figures


async def fan_out(session: aiohttp.ClientSession, stack: Stack, children: int) -> Figures:
    """W2: one run whose step sends `children` events, each starting a 1-step run; time
    from sending the parent's event to the app's end of the last child."""
    ep = stack.ep
    await settle(stack)
    cpu0, sent = stack.inlet_cpu(), time.time()
    await post_events(session, ep, [{"name": "suite/fan", "data": {"n": children}}])

    async def all_done() -> float | None:
        body = await get_json(session, f"{ep.app}/fan")
        return float(body["last"]) if body["done"] >= children else None

    last = await poll(f"{children} fan-out children", all_done, stack, DEADLINE_S, 0.02)
    cpu = stack.inlet_cpu() - cpu0
    return {
        "children": children,
        "fan_out_s": last - sent,
        "cpu_us_per_run": cpu / (children + 1) * 1e6,
    }


async def timers(
    session: aiohttp.ClientSession, stack: Stack, runs: int, spread_s: float, sleep_s: float
) -> Figures:
    """W3: `runs` runs sleeping `sleep_s` then a step, their events spread evenly over
    `spread_s`. Lateness = the step's start at the app (t1) - (tp + sleep), tp being when
    the body reached the sleep in the call answered with the Sleep opcode (the SDK sends
    the wake-up time as tp + sleep). Split at the timer's firing as the server's history
    records it (ms): fired late = fired - (tp + sleep), fired to step = t1 - fired."""
    ep = stack.ep
    await settle(stack)
    start = time.monotonic()
    for i in range(runs):
        due = start + spread_s * i / max(runs, 1)
        if (pause := due - time.monotonic()) > 0:
            await asyncio.sleep(pause)
        await post_events(
            session, ep, [{"name": "suite/sleep", "data": {"i": i, "sleep_s": sleep_s}}]
        )

    async def all_done() -> bool | None:
        body = await get_json(session, f"{ep.app}/sleeps/count")
        return True if body["done"] >= runs else None

    await poll(f"{runs} sleeping runs", all_done, stack, sleep_s + DEADLINE_S, 0.1)
    body = await get_json(session, f"{ep.app}/sleeps")
    timed = [r for r in body["runs"] if r.get("tp") is not None]
    late = [r["t1"] - r["tp"] - r["sleep_s"] for r in timed]
    if len(late) < runs:
        raise BenchError(f"timers: {len(late)} of {runs} runs recorded their sleep")
    # Outside the window: where the lateness arises, before the timer fired (the server
    # noticing it is due) or after (firing it, claiming the step's call, the call).
    fired = await timer_times(session, ep, [r["run_id"] for r in timed])
    split = [
        (f - r["tp"] - r["sleep_s"], r["t1"] - f) for r in timed if (f := fired.get(r["run_id"]))
    ]
    return {
        "runs": runs,
        "lateness_p50_ms": ms(late, 50),
        "lateness_p99_ms": ms(late, 99),
        "lateness_max_ms": ms(late, 100),
        "fired_late_p50_ms": ms([a for a, _ in split], 50),
        "fired_late_p99_ms": ms([a for a, _ in split], 99),
        "fired_to_step_p50_ms": ms([b for _, b in split], 50),
        "fired_to_step_p99_ms": ms([b for _, b in split], 99),
    }


async def ingest(
    session: aiohttp.ClientSession, stack: Stack, singles: int, batches: int, clients: int
) -> Figures:
    """W4: `singles` one-event requests from `clients` concurrent keep-alive clients, then
    `batches` requests of 100 events, one at a time per client; every event starts one run
    of the 10 listening functions (each matches its own `data.fn`). events/s = events /
    (first request sent → last answer); the runs execute meanwhile and afterwards, and each
    phase waits for them to end (outside its window)."""
    figures: Figures = {}
    done = 0
    for phase, requests, size in (("single", singles, 1), ("batch", batches, 100)):
        await settle(stack)

        async def client(c: int, queue: list[int], size: int = size) -> None:
            eps = stack.eps
            while queue:
                n = queue.pop()
                events = [
                    {"name": "suite/ingest", "data": {"fn": (n * size + j) % 10}}
                    for j in range(size)
                ]
                await post_events(session, eps[(c + n) % len(eps)], events)

        cpu0, own0, t0 = stack.inlet_cpu(), self_cpu_seconds(), time.perf_counter()
        queue = list(range(requests))
        await asyncio.gather(*(client(c, queue) for c in range(clients)))
        wall = time.perf_counter() - t0
        cpu, own = stack.inlet_cpu() - cpu0, self_cpu_seconds() - own0
        events = requests * size
        done += events
        figures[f"{phase}_events_per_s"] = events / wall
        figures[f"{phase}_requests_per_s"] = requests / wall
        figures[f"{phase}_cpu_us_per_event"] = cpu / events * 1e6
        # The clients share the cores with the server: their own cost, to judge the rate.
        figures[f"{phase}_client_cpu_us_per_event"] = own / events * 1e6

        async def all_ran(target: int = done) -> bool | None:
            body = await get_json(session, f"{stack.ep.app}/ingest")
            return True if body["done"] >= target else None

        await poll(f"the runs of {done} ingested events", all_ran, stack, DEADLINE_S * 3, 0.2)
    return figures
