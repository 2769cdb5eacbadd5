"""waits.py's set-up: `--waiters` runs of `waiter` that wait for `bench/ping`, and the
checks that every one of them is waiting before phase B is measured."""

from __future__ import annotations

import asyncio
import random
import sqlite3
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from procs import (
    BenchError,
    Child,
    Endpoints,
    cpu_seconds,
    fmt,
    get_json,
    post_events,
    wait_quiet,
)

WAIT_EVENT = "bench/wait"
PING_EVENT = "bench/ping"
BATCH_SIZE = 100
SAMPLE_RUNS = 20
SEED = 20240601


def stored_listeners(db_path: Path, event: str) -> int | None:
    """Listeners for `event` in the server's SQLite file (read-only), or None if unreadable.

    Reads the server's private schema: the one check that the server, not only the app,
    knows every run is waiting. A read-only reader does not block the WAL writer.
    """
    try:
        db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)
        try:
            row = db.execute("SELECT count(*) FROM listeners WHERE event = ?", (event,)).fetchone()
            return int(row[0])
        finally:
            db.close()
    except sqlite3.Error:
        return None


@dataclass
class Setup:
    waiters: int
    seconds: float
    waiters_per_s: float
    server_cpu_ms_per_waiter: float
    app_cpu_ms_per_waiter: float
    listeners: int | None
    sample_running: int


async def wait_counts(session: aiohttp.ClientSession, ep: Endpoints) -> tuple[int, int]:
    body = await get_json(session, f"{ep.app}/waits/count")
    return int(body["reached"]), int(body["resolved"])


async def create_waiters(
    n: int,
    setup_timeout: float,
    session: aiohttp.ClientSession,
    ep: Endpoints,
    app: Child,
    inlet: Child,
    db_path: Path,
) -> Setup:
    """Start `n` runs of `waiter` (data.id = 0..n-1) and wait, at most `setup_timeout` s,
    until every one is waiting: (1) the app answered each first call with the
    WaitForEvent opcode, (2) the server's SQLite file at `db_path` holds a listener for
    each, (3) the server went quiet, (4) a sample of runs reads Running over the API."""
    pid = inlet.proc.pid
    cpu0, app0, start = cpu_seconds(pid), cpu_seconds(app.proc.pid), time.monotonic()
    deadline = start + setup_timeout
    event_ids: list[str] = []
    last_print = start
    for k in range(0, n, BATCH_SIZE):
        body = [{"name": WAIT_EVENT, "data": {"id": i}} for i in range(k, min(k + BATCH_SIZE, n))]
        event_ids.extend(await post_events(session, ep, body))
        if time.monotonic() >= deadline:
            raise BenchError(f"timed out sending the {n} bench/wait events")
        if time.monotonic() - last_print >= 5:
            last_print = time.monotonic()
            reached, _ = await wait_counts(session, ep)
            print(f"    set-up: sent {len(event_ids)}/{n}, waiting {reached}"
                  f"  ({last_print - start:.0f} s)", flush=True)  # fmt: skip
    sent_at = time.monotonic()
    print(f"    set-up: sent {n} events in {sent_at - start:.1f} s", flush=True)

    # 1. The app answered every run's first call with the WaitForEvent opcode.
    reached = 0
    while True:
        for child in (app, inlet):
            child.check_alive()
        reached, resolved = await wait_counts(session, ep)
        if resolved:
            raise BenchError(f"{resolved} waiters resumed before any ping was sent")
        if reached >= n:
            break
        now = time.monotonic()
        if now >= deadline:
            raise BenchError(f"timed out: {reached}/{n} runs reached the wait")
        if now - last_print >= 5:
            last_print = now
            rate = reached / (now - start)
            print(f"    set-up: {reached}/{n} waiting ({now - start:.0f} s, {rate:.0f}/s)",
                  flush=True)  # fmt: skip
        await asyncio.sleep(0.2)
    # 2. The server stored every listener (its reply may lag the app's answer a little).
    listeners: int | None = None
    while time.monotonic() < deadline:
        listeners = stored_listeners(db_path, PING_EVENT)
        if listeners is None or listeners >= n:
            break
        await asyncio.sleep(0.2)
    if listeners is not None and listeners < n:
        raise BenchError(f"the server stored {listeners}/{n} listeners")
    # 3. Nothing left in flight.
    if not await asyncio.to_thread(wait_quiet, pid, 30.0, 0.2, 0.004):
        print("    set-up: the server did not go quiet within 30 s", file=sys.stderr)
    elapsed = time.monotonic() - start
    cpu, app_cpu = cpu_seconds(pid) - cpu0, cpu_seconds(app.proc.pid) - app0
    # 4. Over the API too: a sample of the runs reads Running.
    sample = random.Random(SEED).sample(event_ids, min(SAMPLE_RUNS, len(event_ids)))
    running = 0
    for event_id in sample:
        body = await get_json(session, f"{ep.inlet}/v1/events/{event_id}/runs")
        runs = body.get("data") or []
        running += bool(runs) and runs[0].get("status") == "Running"
    if running < len(sample):
        raise BenchError(f"only {running}/{len(sample)} sampled waiters read Running")
    print(f"    set-up: {n} runs waiting after {elapsed:.1f} s ({n / elapsed:.0f}/s); "
          f"listeners stored {fmt(listeners, 'd') if listeners is not None else '?'}, "
          f"sample {running}/{len(sample)} Running", flush=True)  # fmt: skip
    return Setup(n, elapsed, n / elapsed, cpu / n * 1000, app_cpu / n * 1000, listeners, running)
