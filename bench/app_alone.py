"""The app-alone ceiling of W1: bench/app.py driven directly with hand-built call
requests, the server's role played by the benchmark, `BASELINE_CONCURRENCY` runs at a
time. What the app costs and how fast it goes with no server in the way."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import aiohttp
from procs import BenchError, Child, Endpoints, cpu_seconds
from runs import bounded_gather

# bench/app.py's one function: its event, its slug and its steps.
EVENT_NAME = "bench/run"
FUNCTION_SLUG = "bench-three-steps"
STEPS_PER_RUN = 3
# Enough in-flight calls to keep one app process busy, as the server's workers would.
BASELINE_CONCURRENCY = 32


def call_request(
    event: dict[str, Any], run_id: str, memo: dict[str, Any], stack: list[str]
) -> dict[str, Any]:
    """The body of a call request for run ``run_id`` of ``event``, its steps so far
    ``memo`` (recorded in ``stack``'s order), as the server sends it."""
    return {
        "event": event,
        "events": [event],
        "steps": memo,
        "ctx": {
            "run_id": run_id,
            "attempt": 0,
            "disable_immediate_execution": False,
            "use_api": False,
            "stack": {"stack": stack, "current": len(stack)},
        },
        "version": -1,
        "use_api": False,
    }


async def drive_one_run(
    session: aiohttp.ClientSession, url: str, name: str, i: int, run_id: str, steps: int
) -> int:
    """Play the server for one run of a function of `steps` steps whose event is `name`
    with data `{"i": i}`: discovery calls to `url` with a growing memo until a 200. How
    many calls it took."""
    event = {"name": name, "data": {"i": i}, "id": run_id, "ts": 1, "user": {}}
    memo: dict[str, Any] = {}
    stack: list[str] = []
    for request in range(1, steps + 3):
        body = call_request(event, run_id, memo, stack)
        async with session.post(url, json=body) as resp:
            payload = await resp.json(content_type=None)
            if resp.status == 200:
                return request
            if resp.status != 206:
                raise BenchError(f"{run_id}: call → {resp.status}: {str(payload)[:300]}")
        for op in payload:
            memo[op["id"]] = {"data": op.get("data")}
            stack.append(op["id"])
    raise BenchError(f"{run_id} did not finish within the expected number of calls")


@dataclass(frozen=True)
class Baseline:
    steps_per_s: float
    app_cpu_us_per_step: float
    requests_per_run: float


async def app_alone(
    session: aiohttp.ClientSession, ep: Endpoints, app: Child, runs: int
) -> Baseline:
    url = f"{ep.serve_url}?fnId={FUNCTION_SLUG}&stepId=step"
    cpu0, t0 = cpu_seconds(app.proc.pid), time.perf_counter()
    requests = await bounded_gather(
        range(runs),
        lambda i: drive_one_run(session, url, EVENT_NAME, i, f"baseline-{i}", STEPS_PER_RUN),
        BASELINE_CONCURRENCY,
    )
    wall, cpu = time.perf_counter() - t0, cpu_seconds(app.proc.pid) - cpu0
    steps = runs * STEPS_PER_RUN
    return Baseline(steps / wall, cpu / steps * 1e6, sum(requests) / runs)
