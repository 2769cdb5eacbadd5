"""The SDK app the step benchmark drives: one function of three `step.run` calls.

Run it as `uvicorn bench.app:app --loop uvloop --http httptools` with
`INNGEST_DEV=http://127.0.0.1:<inlet port>`; `bench/steps.py` does that for you.

Besides the Inngest endpoint (`/api/inngest`) it serves `GET /stats`: how many distinct
runs reached the end of the function, counted inside this process. The benchmark waits on
that counter instead of polling the server, so that polling costs no server CPU while the
measured batch runs.
"""

from __future__ import annotations

import time
from typing import Any

import fastapi
import inngest
import inngest.fast_api

APP_ID = "bench"
FUNCTION_ID = "three-steps"
EVENT_NAME = "bench/run"

# INNGEST_DEV (a URL) selects dev mode and points the SDK at the Inlet under test.
client = inngest.Inngest(app_id=APP_ID)


class _Completions:
    """Distinct runs that reached the end of the function.

    A set of run ids, not a plain counter: the server may repeat the final call request
    (at-least-once delivery), and a repeat must not count twice.
    """

    def __init__(self) -> None:
        self.run_ids: set[str] = set()
        self.last_at: float | None = None

    def record(self, run_id: str) -> None:
        self.run_ids.add(run_id)
        self.last_at = time.time()

    def snapshot(self) -> dict[str, Any]:
        return {"completed": len(self.run_ids), "last_completed_at": self.last_at}


completions = _Completions()


async def _step(n: int, i: int) -> dict[str, int]:
    return {"step": n, "i": i}


@client.create_function(fn_id=FUNCTION_ID, trigger=inngest.TriggerEvent(event=EVENT_NAME))
async def three_steps(ctx: inngest.Context) -> dict[str, Any]:
    raw = ctx.event.data.get("i")
    i = raw if isinstance(raw, int) else -1
    a = await ctx.step.run("one", _step, 1, i)
    b = await ctx.step.run("two", _step, 2, i)
    c = await ctx.step.run("three", _step, 3, i)
    # Reached only by the request in which all three steps are memoised, i.e. the one
    # whose 200 answer completes the run.
    completions.record(ctx.run_id)
    return {"i": i, "sum": a["step"] + b["step"] + c["step"]}


app = fastapi.FastAPI()
inngest.fast_api.serve(app, client, [three_steps])


@app.get("/stats")
async def stats() -> dict[str, Any]:
    return completions.snapshot()
