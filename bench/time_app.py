"""The SDK app the timer and wait benchmarks drive (`bench/timers.py`, `bench/waits.py`).

Run it as `uvicorn bench.time_app:app --loop uvloop --http httptools` with
`INNGEST_DEV=http://127.0.0.1:<inlet port>`; the benchmarks do that for you.

Two functions:

- `sleeper` (event `bench/sleep`, data `{"i": int, "sleep_s": float}`): step `t0` returns
  `time.time()`, `step.sleep("nap", sleep_s)`, step `t1` returns `time.time()`. The body
  also notes, once per run, when it first reached the sleep (`tp`: the call whose answer
  is the Sleep opcode). `GET /sleeps` lists `(i, t0, tp, t1)` of the runs that finished.
- `waiter` (event `bench/wait`, data `{"id": int}`): `step.wait_for_event("w",
  event="bench/ping", if_exp="async.data.id == event.data.id", timeout=10 min)`. The
  body notes, once per run, that it reached the wait (the first call: its answer is the
  WaitForEvent opcode), and at the end which event resolved it. `GET /waits` gives the
  count that reached the wait and the resolved runs.

Everything is kept in memory, keyed by run id, so a repeated call (at-least-once delivery)
never counts twice.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import fastapi
import inngest
import inngest.fast_api

APP_ID = "bench-time"
SLEEP_EVENT = "bench/sleep"
WAIT_EVENT = "bench/wait"
PING_EVENT = "bench/ping"
WAIT_TIMEOUT = timedelta(minutes=10)

# INNGEST_DEV (a URL) selects dev mode and points the SDK at the Inlet under test.
client = inngest.Inngest(app_id=APP_ID)


def _int(value: Any, default: int = -1) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


class _Sleeps:
    def __init__(self) -> None:
        self.reached: dict[str, float] = {}
        self.done: dict[str, dict[str, Any]] = {}

    def at_sleep(self, run_id: str) -> None:
        # First time only: a later call replays the body past this point too.
        self.reached.setdefault(run_id, time.time())

    def finish(self, run_id: str, i: int, t0: float, t1: float) -> None:
        tp = self.reached.get(run_id)
        self.done[run_id] = {"run_id": run_id, "i": i, "t0": t0, "tp": tp, "t1": t1}


class _Waits:
    def __init__(self) -> None:
        self.reached: set[str] = set()
        self.resolved: dict[str, dict[str, Any]] = {}

    def at_wait(self, run_id: str) -> None:
        self.reached.add(run_id)

    def finish(self, run_id: str, waiter_id: int, event: inngest.Event | None) -> None:
        self.resolved[run_id] = {
            "run_id": run_id,
            "id": waiter_id,
            "event_id": None if event is None else event.id,
            "event_data_id": None if event is None else event.data.get("id"),
            "at": time.time(),
        }


sleeps = _Sleeps()
waits = _Waits()


async def _now() -> float:
    return time.time()


@client.create_function(fn_id="sleeper", trigger=inngest.TriggerEvent(event=SLEEP_EVENT))
async def sleeper(ctx: inngest.Context) -> dict[str, Any]:
    i = _int(ctx.event.data.get("i"))
    raw = ctx.event.data.get("sleep_s")
    seconds = float(raw) if isinstance(raw, int | float) else 2.0
    t0 = await ctx.step.run("t0", _now)
    sleeps.at_sleep(ctx.run_id)
    await ctx.step.sleep("nap", timedelta(seconds=seconds))
    t1 = await ctx.step.run("t1", _now)
    # Reached only by the call in which both steps are memoised: the one that completes.
    sleeps.finish(ctx.run_id, i, t0, t1)
    return {"i": i}


@client.create_function(fn_id="waiter", trigger=inngest.TriggerEvent(event=WAIT_EVENT))
async def waiter(ctx: inngest.Context) -> dict[str, Any]:
    waiter_id = _int(ctx.event.data.get("id"))
    waits.at_wait(ctx.run_id)
    event = await ctx.step.wait_for_event(
        "w", event=PING_EVENT, if_exp="async.data.id == event.data.id", timeout=WAIT_TIMEOUT
    )
    waits.finish(ctx.run_id, waiter_id, event)
    return {"id": waiter_id, "matched": event is not None}


app = fastapi.FastAPI()
inngest.fast_api.serve(app, client, [sleeper, waiter])


@app.get("/sleeps")
async def list_sleeps() -> dict[str, Any]:
    return {"reached": len(sleeps.reached), "runs": list(sleeps.done.values())}


@app.get("/sleeps/count")
async def count_sleeps() -> dict[str, int]:
    return {"reached": len(sleeps.reached), "done": len(sleeps.done)}


@app.get("/waits")
async def list_waits() -> dict[str, Any]:
    return {"reached": len(waits.reached), "resolved": list(waits.resolved.values())}


@app.get("/waits/count")
async def count_waits() -> dict[str, int]:
    return {"reached": len(waits.reached), "resolved": len(waits.resolved)}
