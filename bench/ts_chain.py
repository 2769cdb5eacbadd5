"""W1-TS for `bench/run`: W1's chain of 3 steps through a TypeScript v4 app with
checkpointing (`tests/node/apps/checkpoint_app.js`, function `on`, `inngest@4` under
Node, STEPS=3), driven by `inlet dev` on the chosen database.

The app journals every call, step body start and checkpoint to a file (one line each):
the benchmark waits until every run's third step body has started, then until the inlet
processes are quiet (the checkpoint of that step and the end of the run), reads the CPU,
and only then asks the server for each run's `ended_at` (outside the measured window).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
from procs import (
    HOST,
    BenchError,
    Child,
    Endpoints,
    cpu_seconds,
    log_problems,
    nearest_rank,
    spawn,
    start_inlet_dev,
    supervised,
    until,
    wait_quiet,
)
from runs import sweep_runs
from stack import distinct_ports

REPO = Path(__file__).resolve().parent.parent
NODE_DIR = REPO / "tests" / "node"
APP = NODE_DIR / "apps" / "checkpoint_app.js"
APP_ID = "bench-ts"
SLUG = f"{APP_ID}-on"
STEPS = 3
WARMUP = 20
BATCH = 100


class Journal:
    """The app's journal file, read incrementally: how many runs started step 3."""

    def __init__(self, path: Path) -> None:
        self.path, self.offset, self.keys = path, 0, set[str]()

    def third_steps(self) -> set[str]:
        if self.path.exists():
            with self.path.open("rb") as f:
                f.seek(self.offset)
                data = f.read()
            end = data.rfind(b"\n") + 1
            self.offset += end
            for line in data[:end].splitlines():
                row = json.loads(line)
                if row.get("kind") == "step" and row.get("step") == STEPS and row.get("fn") == "on":
                    self.keys.add(str(row.get("key")))
        return self.keys


async def send(
    session: aiohttp.ClientSession, eps: list[Endpoints], keys: list[str]
) -> dict[str, float]:
    sent: dict[str, float] = {}
    for k in range(0, len(keys), BATCH):
        body = [{"name": f"{APP_ID}/on", "data": {"key": key}} for key in keys[k : k + BATCH]]
        at = time.time()
        async with session.post(
            f"{eps[(k // BATCH) % len(eps)].inlet}/e/benchkey", json=body
        ) as resp:
            text = await resp.text()
            if resp.status != 200:
                raise BenchError(f"W1-TS: POST /e/benchkey → {resp.status}: {text[:300]}")
        sent.update((i, at) for i in json.loads(text)["ids"])
    return sent


async def wait_steps(journal: Journal, keys: list[str], children: list[Child]) -> None:
    wanted = set(keys)

    async def reached() -> bool:
        return wanted <= journal.third_steps()

    await until(
        f"{len(keys)} TS runs to reach step 3", reached, time.monotonic() + 300, 0.05, children
    )


async def measure(
    session: aiohttp.ClientSession,
    eps: list[Endpoints],
    app: Child,
    inlets: list[Child],
    journal: Journal,
    runs: int,
) -> dict[str, Any]:
    children = [app, *inlets]
    warm = [f"w{i}" for i in range(WARMUP)]
    await send(session, eps, warm)
    await wait_steps(journal, warm, children)
    for inlet in inlets:
        await asyncio.to_thread(wait_quiet, inlet.proc.pid)
    keys = [str(i) for i in range(runs)]
    cpu0 = sum(cpu_seconds(c.proc.pid) for c in inlets), cpu_seconds(app.proc.pid)
    t0 = time.time()
    sent = await send(session, eps, keys)
    await wait_steps(journal, keys, children)
    for inlet in inlets:
        await asyncio.to_thread(wait_quiet, inlet.proc.pid)
    server = sum(cpu_seconds(c.proc.pid) for c in inlets) - cpu0[0]
    app_cpu = cpu_seconds(app.proc.pid) - cpu0[1]
    found = await sweep_runs(session, eps[0], sent, 16, time.monotonic() + 120)
    done = [r for r in found.values() if r.status == "Completed" and r.ended_at is not None]
    if not done:
        raise BenchError("W1-TS: no run reported Completed with an ended_at")
    wall = max(r.ended_at for r in done if r.ended_at) - t0
    latencies = [(r.ended_at - sent[r.event_id]) * 1000 for r in done if r.ended_at]
    n = runs * STEPS
    return {
        "runs": runs,
        "completed": len(done),
        "runs_per_s": len(done) / wall,
        "steps_per_s": len(done) * STEPS / wall,
        "latency_p50_ms": nearest_rank(latencies, 50),
        "latency_p99_ms": nearest_rank(latencies, 99),
        "cpu_us_per_step": server / n * 1e6,
        "app_cpu_us_per_step": app_cpu / n * 1e6,
        "notes": [] if len(done) == runs else [f"W1-TS: only {len(done)}/{runs} runs completed"],
    }


async def run(
    runs: int, processes: int, url_of: Callable[[Path], str], log_dir: Path | None
) -> dict[str, Any]:
    """One repeat: start the Node app and the inlet processes on `url_of(tmp)`, measure,
    stop every process by its PID."""
    if shutil.which("node") is None or not (NODE_DIR / "node_modules" / "inngest4").is_dir():
        raise BenchError("W1-TS needs node and tests/node/node_modules (run scripts/bootstrap)")
    tmp = Path(tempfile.mkdtemp(prefix="inlet-bench-ts-"))
    logs = log_dir / "w1-ts" if log_dir else tmp
    logs.mkdir(parents=True, exist_ok=True)
    app_port, *inlet_ports = distinct_ports(1 + processes)
    eps = [Endpoints(f"http://{HOST}:{p}", f"http://{HOST}:{app_port}") for p in inlet_ports]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INNGEST_", "INLET_"))}
    env |= {"NODE_SDK": "4", "PORT": str(app_port), "APP_ID": APP_ID, "STEPS": str(STEPS)}
    env |= {"ACCEPT_RECORD_FILE": str(tmp / "journal.jsonl"), "INNGEST_DEV": eps[0].inlet}
    try:
        with supervised() as children:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
                app = spawn("node app", ["node", str(APP)], env, logs / "ts-app.log", NODE_DIR)
                children.append(app)

                async def app_up() -> bool:
                    async with session.get(eps[0].serve_url) as resp:
                        return resp.status == 200

                await until("the Node app", app_up, time.monotonic() + 60, 0.1, children)
                url = url_of(tmp)
                inlets = []
                for k, ep in enumerate(eps):
                    log = logs / f"ts-inlet{k + 1}.log"
                    inlet = start_inlet_dev(inlet_ports[k], url, ep.serve_url, log)
                    children.append(inlet)
                    inlets.append(inlet)

                    async def synced(ep: Endpoints = ep) -> bool:
                        async with session.get(f"{ep.inlet}/dev") as resp:
                            return SLUG in await resp.text()

                    await until(f"{SLUG} in GET /dev", synced, time.monotonic() + 60, 0.1, children)
                figures = await measure(
                    session, eps, app, inlets, Journal(tmp / "journal.jsonl"), runs
                )
        figures["notes"] += log_problems(inlets)
        return figures
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
