"""The floor of W4's batches: events/s and the server's CPU per event for the least an
event API does to accept W4's events durably in Inlet's design, driven as `bench/run`'s
W4 drives Inlet.

`bench/ingest_floor_app.py` (under uvicorn with uvloop and httptools, a subprocess on a
free 127.0.0.1 port, stopped by its PID) parses each POST of events and stores each
event, the run it starts, that run's queue item, its key and the event's link to it as
rows of Inlet's own SQLite schema, one transaction per request, on the event loop. It
does none of the rest of Inlet's ingest (triggers matched, refusals recorded, keys
checked, waits routed, flow control, metrics) and runs none of the runs. Issue #16's
target for W4 is 20,000 events/s in batches of 100; a floor far above what Inlet reaches
says how much of the gap is Inlet's own work, and a floor near it, that the design
itself is the bound on this machine.

    .venv/bin/python bench/ingest_floor.py [--batches 200] [--repeat 3] [--json]

Each repeat starts the server on a fresh SQLite file, sends 5 warm-up batches, then
`--batches` requests of 100 events (`{"name": "suite/ingest", "data": {"fn": k}}`, k
cycling 0-9) from 32 concurrent keep-alive clients, each waiting for its answer before
the next: as W4. events/s = events / (first request sent -> last answer); CPU is the
server process's (`/proc`) and this process's (`getrusage`) over that window. Prints
each repeat and the medians.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiohttp
import uvloop
from procs import (
    HOST,
    REPO,
    BenchError,
    Child,
    cpu_seconds,
    free_port,
    inlet_env,
    load_average,
    run_main,
    self_cpu_seconds,
    spawn,
    supervised,
    until,
)

BATCH = 100
CLIENTS = 32
WARM_UP = 5
DEADLINE_S = 30.0


@dataclass
class Figures:
    events_per_s: float
    server_cpu_us_per_event: float
    client_cpu_us_per_event: float
    load: str


def start_server(port: int, db: Path, log: Path) -> Child:
    argv = [
        sys.executable, "-m", "uvicorn", "bench.ingest_floor_app:app",
        "--host", HOST, "--port", str(port),
        "--loop", "uvloop", "--http", "httptools",
        "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    return spawn("floor", argv, {**inlet_env(), "INGEST_FLOOR_DB": str(db)}, log, REPO)


async def post(session: aiohttp.ClientSession, url: str, first: int) -> None:
    events = [{"name": "suite/ingest", "data": {"fn": (first + j) % 10}} for j in range(BATCH)]
    async with session.post(url, json=events) as resp:
        text = await resp.text()
    body: Any = json.loads(text) if resp.status == 200 else {}
    if len(body.get("ids") or []) != BATCH:
        raise BenchError(f"POST {url} -> {resp.status}: {text[:300]}")


async def drive(url: str, server: Child, batches: int) -> Figures:
    connector = aiohttp.TCPConnector(limit=64)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def answers() -> bool:
            async with session.get(url) as resp:
                return resp.status == 200

        await until("the floor server", answers, time.monotonic() + DEADLINE_S, 0.1, [server])
        for n in range(WARM_UP):
            await post(session, url, n * BATCH)
        queue = list(range(batches))

        async def client() -> None:
            while queue:
                await post(session, url, queue.pop() * BATCH)

        cpu0, own0, t0 = cpu_seconds(server.proc.pid), self_cpu_seconds(), time.perf_counter()
        await asyncio.gather(*(client() for _ in range(CLIENTS)))
        wall = time.perf_counter() - t0
        cpu, own = cpu_seconds(server.proc.pid) - cpu0, self_cpu_seconds() - own0
    events = batches * BATCH
    return Figures(events / wall, cpu / events * 1e6, own / events * 1e6, load_average())


def run(opts: argparse.Namespace) -> list[Figures]:
    results = []
    with tempfile.TemporaryDirectory(prefix="inlet-ingest-floor-") as tmp:
        for r in range(opts.repeat):
            port, db = free_port(), Path(tmp) / f"floor{r}.db"
            with supervised() as children:
                children.append(start_server(port, db, Path(tmp) / f"floor{r}.log"))
                url = f"http://{HOST}:{port}/e/key"
                figures = uvloop.run(drive(url, children[0], opts.batches))
            results.append(figures)
            print(
                f"repeat {r + 1}: {figures.events_per_s:,.0f} events/s, server "
                f"{figures.server_cpu_us_per_event:.0f} µs/event, client "
                f"{figures.client_cpu_us_per_event:.0f} µs/event, {figures.load}",
                flush=True,
            )
    return results


def summary(results: list[Figures]) -> dict[str, Any]:
    medians = {
        key: statistics.median(getattr(f, key) for f in results)
        for key in ("events_per_s", "server_cpu_us_per_event", "client_cpu_us_per_event")
    }
    print(
        f"median of {len(results)}: {medians['events_per_s']:,.0f} events/s, server "
        f"{medians['server_cpu_us_per_event']:.0f} µs/event, client "
        f"{medians['client_cpu_us_per_event']:.0f} µs/event"
    )
    return {**medians, "repeats": [asdict(f) for f in results]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=200, help="requests of 100 events")
    parser.add_argument("--repeat", type=int, default=3, help="repeats; medians are printed")
    parser.add_argument("--json", action="store_true", help="print the medians as one JSON line")
    opts = parser.parse_args(argv)
    if opts.batches < 1 or opts.repeat < 1:
        raise SystemExit("--batches and --repeat must be at least 1")
    return run_main(lambda: run(opts), summary if opts.json else lambda r: (summary(r), None)[1])


if __name__ == "__main__":
    sys.exit(main())
