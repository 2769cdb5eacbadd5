"""Soak: many three-step runs through one `inlet dev` on SQLite with a short retention.

    python bench/soak.py [--runs 100000] [--retention 30] [--report-every 5000]

Starts `bench/app.py` (the official Python SDK) and `inlet dev --retention <s>` on a
fresh SQLite file, sends `--runs` events in batches of 100 while keeping at most
`--window` runs unfinished, and prints a line every `--report-every` runs: runs done,
the server's resident memory (VmRSS), the database file and its WAL. With retention on,
both should level off after warm-up instead of growing with the number of runs; the last
lines compare the last quarter of the samples with the second quarter (a ratio near 1 is
flat, one near 2 grows with the runs). See docs/performance.md for figures.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiohttp
from procs import (
    HOST,
    BenchError,
    Child,
    Endpoints,
    free_port,
    get_json,
    inlet_env,
    run_main,
    spawn,
    start_uvicorn_app,
    supervised,
    until,
)

REPO = Path(__file__).resolve().parent.parent
EVENT_KEY = "benchkey"
EVENT_NAME = "bench/run"
FUNCTION_SLUG = "bench-three-steps"
BATCH = 100
MAX_SECONDS = 4 * 3600
"""The whole soak gives up after this long (a stalled server must not hang a machine)."""


@dataclass(frozen=True)
class Sample:
    runs: int
    seconds: float
    rss_mib: float
    db_mib: float
    wal_mib: float


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise BenchError(f"no VmRSS for process {pid}")


def size_mib(path: Path) -> float:
    return path.stat().st_size / 2**20 if path.exists() else 0.0


def start_inlet(port: int, db: Path, app_url: str, retention: str, log: Path) -> Child:
    argv = [
        sys.executable, "-m", "inlet", "dev",
        "--host", HOST, "--port", str(port),
        "--database-url", f"sqlite:///{db}",
        "--no-discovery", "-u", app_url,
        "--retention", retention,
        "--log-level", "warning",
    ]  # fmt: skip
    return spawn("inlet", argv, inlet_env(), log, REPO)


async def completed(session: aiohttp.ClientSession, ep: Endpoints) -> int:
    return int((await get_json(session, f"{ep.app}/stats"))["completed"])


async def send(session: aiohttp.ClientSession, ep: Endpoints, first: int, count: int) -> None:
    body = [{"name": EVENT_NAME, "data": {"i": i}} for i in range(first, first + count)]
    async with session.post(f"{ep.inlet}/e/{EVENT_KEY}", json=body) as resp:
        if resp.status != 200:
            raise BenchError(f"POST /e → {resp.status}: {(await resp.text())[:300]}")


def quarter_ratio(values: list[float]) -> float | None:
    """Median of the last quarter over the median of the second quarter."""
    n = len(values) // 4
    if n == 0:
        return None
    second = statistics.median(values[n : 2 * n])
    last = statistics.median(values[-n:])
    return last / second if second else None


async def soak(opts: argparse.Namespace) -> list[Sample]:
    samples: list[Sample] = []
    with tempfile.TemporaryDirectory(prefix="inlet-soak-") as tmp:
        tmpdir = Path(tmp)
        db = tmpdir / "inlet.db"
        app_port, inlet_port = free_port(), free_port()
        ep = Endpoints(f"http://{HOST}:{inlet_port}", f"http://{HOST}:{app_port}")
        with supervised() as children:
            timeout = aiohttp.ClientTimeout(total=60)
            connector = aiohttp.TCPConnector(limit=16)
            async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
                app = start_uvicorn_app("bench.app:app", app_port, inlet_port, tmpdir / "app.log")
                children.append(app)

                async def app_up() -> bool:
                    return await completed(session, ep) == 0

                await until("the app to answer", app_up, time.monotonic() + 30, 0.1, children)
                inlet = start_inlet(
                    inlet_port, db, ep.serve_url, f"{opts.retention}s", tmpdir / "inlet.log"
                )
                children.append(inlet)

                async def synced() -> bool:
                    async with session.get(f"{ep.inlet}/dev") as resp:
                        return resp.status == 200 and FUNCTION_SLUG in await resp.text()

                await until("the app to sync", synced, time.monotonic() + 60, 0.2, children)
                started = time.monotonic()
                deadline = started + MAX_SECONDS
                sent = done = 0
                next_report = opts.report_every
                print("runs_done,seconds,server_rss_mib,db_mib,wal_mib", flush=True)
                while done < opts.runs:
                    if time.monotonic() > deadline:
                        raise BenchError(f"gave up after {MAX_SECONDS}s at {done} runs")
                    for child in children:
                        child.check_alive()
                    while sent < opts.runs and sent - done < opts.window:
                        count = min(BATCH, opts.runs - sent)
                        await send(session, ep, sent, count)
                        sent += count
                    await asyncio.sleep(0.2)
                    done = await completed(session, ep)
                    if done >= next_report or done >= opts.runs:
                        s = Sample(
                            done,
                            round(time.monotonic() - started, 1),
                            round(rss_mib(inlet.proc.pid), 1),
                            round(size_mib(db), 2),
                            round(size_mib(Path(f"{db}-wal")), 2),
                        )
                        samples.append(s)
                        print(
                            f"{s.runs},{s.seconds},{s.rss_mib},{s.db_mib},{s.wal_mib}", flush=True
                        )
                        next_report += opts.report_every
    return samples


def summary(samples: list[Sample]) -> dict[str, Any]:
    rss = [s.rss_mib for s in samples]
    disk = [s.db_mib + s.wal_mib for s in samples]
    last = samples[-1] if samples else None
    return {
        "runs": last.runs if last else 0,
        "seconds": last.seconds if last else 0,
        "runs_per_s": round(last.runs / last.seconds, 1) if last and last.seconds else None,
        "rss_last_over_second_quarter": quarter_ratio(rss),
        "disk_last_over_second_quarter": quarter_ratio(disk),
        "rss_mib_max": max(rss, default=None),
        "disk_mib_max": max(disk, default=None),
        "samples": [asdict(s) for s in samples],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--retention", type=float, default=30.0, help="seconds")
    parser.add_argument("--report-every", type=int, default=5_000)
    parser.add_argument("--window", type=int, default=2_000, help="runs unfinished at most")
    parser.add_argument("--json", action="store_true", help="the summary as JSON at the end")
    opts = parser.parse_args(argv)

    async def run() -> list[list[Sample]]:
        samples = await soak(opts)
        s = summary(samples)
        print(
            f"rss last/second quarter: {s['rss_last_over_second_quarter']}, "
            f"disk last/second quarter: {s['disk_last_over_second_quarter']}, "
            f"{s['runs_per_s']} runs/s",
            flush=True,
        )
        return [samples]

    return run_main(lambda: asyncio.run(run()), (lambda r: summary(r[0])) if opts.json else None)


if __name__ == "__main__":
    sys.exit(main())
