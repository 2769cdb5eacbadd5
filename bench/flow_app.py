"""The SDK app the flow-control benchmark drives: the same one-step function twice.

    uvicorn bench.flow_app:app --loop uvloop --http httptools   (bench/flow.py does it)

``free`` (event ``bench/flow-free``) has no flow control; ``keyed`` (event
``bench/flow-keyed``) has ``concurrency [{limit: BENCH_FLOW_LIMIT (2), key:
"event.data.k"}]``. The step body sleeps ``BENCH_FLOW_STEP_MS`` (10) ms, so a run holds
its concurrency slot for a while without using CPU.

Besides ``/api/inngest`` it serves ``GET /stats`` (distinct completed runs per function)
and ``GET /runs?fn=ID`` (one record per completed run: its event's ``k`` and ``i``, when
its step body started and ended, when the final call reached the end), so the benchmark
measures from the app's side without polling the server while it works.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import fastapi
import inngest
import inngest.fast_api

APP_ID = "bench-flow"
FREE_EVENT = "bench/flow-free"
KEYED_EVENT = "bench/flow-keyed"
LIMIT = int(os.environ.get("BENCH_FLOW_LIMIT", "2"))
STEP_SECONDS = float(os.environ.get("BENCH_FLOW_STEP_MS", "10")) / 1000

# INNGEST_DEV (a URL) selects dev mode and points the SDK at the Inlet under test.
client = inngest.Inngest(app_id=APP_ID)

# function id → run id → record. Keyed by run id: a repeated final call counts once.
completed: dict[str, dict[str, dict[str, Any]]] = {"free": {}, "keyed": {}}


async def _work() -> dict[str, float]:
    started = time.time()
    await asyncio.sleep(STEP_SECONDS)
    return {"started": started, "step_ended": time.time()}


async def _run(fn: str, ctx: inngest.Context) -> dict[str, Any]:
    span = await ctx.step.run("work", _work)
    # Reached only by the call in which the step is memoised: the one that ends the run.
    completed[fn].setdefault(
        ctx.run_id,
        {"k": ctx.event.data.get("k"), "i": ctx.event.data.get("i"), **span, "ended": time.time()},
    )
    return span


@client.create_function(fn_id="free", trigger=inngest.TriggerEvent(event=FREE_EVENT))
async def free(ctx: inngest.Context) -> dict[str, Any]:
    return await _run("free", ctx)


@client.create_function(
    fn_id="keyed",
    concurrency=[inngest.Concurrency(limit=LIMIT, key="event.data.k")],
    trigger=inngest.TriggerEvent(event=KEYED_EVENT),
)
async def keyed(ctx: inngest.Context) -> dict[str, Any]:
    return await _run("keyed", ctx)


app = fastapi.FastAPI()
inngest.fast_api.serve(app, client, [free, keyed])


@app.get("/stats")
async def stats() -> dict[str, int]:
    return {fn: len(runs) for fn, runs in completed.items()}


@app.get("/runs")
async def runs(fn: str) -> list[dict[str, Any]]:
    return list(completed.get(fn, {}).values())
