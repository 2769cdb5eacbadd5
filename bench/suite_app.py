"""The SDK app `bench/run` drives for its unloaded-latency, fan-out, timer and ingest
workloads (W1 itself runs on `bench/app.py`, through `bench/steps.py`).

Run it as `uvicorn bench.suite_app:app --loop uvloop --http httptools` with
`INNGEST_DEV=http://127.0.0.1:<inlet port>`; `bench/run` does that for you.

Functions (app id `bench-suite`), each recording in memory, keyed by run id, what the
benchmark reads back, so that it waits on the app instead of polling the server:

- `chain` (`suite/chain`, data `{"i": int}`): three `step.run` calls; the call that ends
  the function records `time.time()` under `i` (`GET /chain/{i}`).
- `fan-parent` (`suite/fan`, data `{"n": int}`): one `step.send_event` of `n` events
  `suite/fan-child`; `fan-child` runs one step and records when it ended
  (`GET /fan`: how many children ended, the last time).
- `sleeper` (`suite/sleep`, data `{"i": int, "sleep_s": float}`): `step.sleep`, then a
  step that records `time.time()` as it starts (`t1`). The body notes when it first
  reached the sleep (`tp`: the call whose answer is the Sleep opcode; the SDK sends the
  wake-up time as that moment + the sleep). `GET /sleeps` lists them.
- `backlog` (`suite/backlog`): throttled to 1 run start per 24 h, so all but its first
  run stay queued with their start delayed (W5's backlog); its body does nothing.
- `listen-0` … `listen-9` (`suite/ingest`, each with the expression
  `event.data.fn == k`): every event starts exactly one of them, a run with no steps that
  counts itself (`GET /ingest`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import timedelta
from typing import Any

import fastapi
import inngest
import inngest.fast_api

APP_ID = "bench-suite"
LISTENERS = 10

# INNGEST_DEV (a URL) selects dev mode and points the SDK at the Inlet under test.
client = inngest.Inngest(app_id=APP_ID)


def _int(value: Any, default: int = -1) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


class _Records:
    """What the functions saw. Keyed by run id where a repeated call (at-least-once
    delivery) must not count twice."""

    def __init__(self) -> None:
        self.chain_done: dict[int, float] = {}
        self.chain_first: dict[int, float] = {}
        self.chain_ended: dict[int, asyncio.Event] = {}
        """Set when chain run ``i`` ends: ``GET /chain/{i}?wait=`` waits on it."""
        self.fan_done: dict[str, float] = {}
        self.sleep_reached: dict[str, float] = {}
        self.sleeps: dict[str, dict[str, Any]] = {}
        self.ingested: set[str] = set()


records = _Records()


async def _step(n: int) -> int:
    return n


async def _first(i: int) -> int:
    records.chain_first.setdefault(i, time.time())
    return 1


async def _now() -> float:
    return time.time()


@client.create_function(fn_id="chain", trigger=inngest.TriggerEvent(event="suite/chain"))
async def chain(ctx: inngest.Context) -> dict[str, Any]:
    i = _int(ctx.event.data.get("i"))
    a = await ctx.step.run("one", _first, i)
    b = await ctx.step.run("two", _step, 2)
    c = await ctx.step.run("three", _step, 3)
    # Reached only by the call in which all three steps are memoised: the one that ends it.
    records.chain_done.setdefault(i, time.time())
    records.chain_ended.setdefault(i, asyncio.Event()).set()
    return {"i": i, "sum": a + b + c}


@client.create_function(fn_id="fan-parent", trigger=inngest.TriggerEvent(event="suite/fan"))
async def fan_parent(ctx: inngest.Context) -> dict[str, Any]:
    n = _int(ctx.event.data.get("n"), 0)
    events = [inngest.Event(name="suite/fan-child", data={"k": k}) for k in range(n)]
    ids = await ctx.step.send_event("fan-out", events)
    return {"sent": len(ids)}


@client.create_function(fn_id="fan-child", trigger=inngest.TriggerEvent(event="suite/fan-child"))
async def fan_child(ctx: inngest.Context) -> dict[str, Any]:
    k = await ctx.step.run("work", _step, _int(ctx.event.data.get("k")))
    records.fan_done.setdefault(ctx.run_id, time.time())
    return {"k": k}


@client.create_function(fn_id="sleeper", trigger=inngest.TriggerEvent(event="suite/sleep"))
async def sleeper(ctx: inngest.Context) -> dict[str, Any]:
    i = _int(ctx.event.data.get("i"))
    raw = ctx.event.data.get("sleep_s")
    seconds = float(raw) if isinstance(raw, int | float) else 2.0
    # First time only: later calls replay the body past this point too.
    records.sleep_reached.setdefault(ctx.run_id, time.time())
    await ctx.step.sleep("nap", timedelta(seconds=seconds))
    t1 = await ctx.step.run("t1", _now)
    tp = records.sleep_reached.get(ctx.run_id)
    records.sleeps[ctx.run_id] = {
        "run_id": ctx.run_id, "i": i, "tp": tp, "t1": t1, "sleep_s": seconds,
    }  # fmt: skip
    return {"i": i}


@client.create_function(
    fn_id="backlog",
    trigger=inngest.TriggerEvent(event="suite/backlog"),
    throttle=inngest.Throttle(limit=1, period=timedelta(hours=24)),
)
async def backlog(ctx: inngest.Context) -> None:
    return None


def _listener(k: int) -> inngest.Function[Any]:
    trigger = inngest.TriggerEvent(event="suite/ingest", expression=f"event.data.fn == {k}")

    @client.create_function(fn_id=f"listen-{k}", trigger=trigger)
    async def listen(ctx: inngest.Context) -> None:
        records.ingested.add(ctx.run_id)

    return listen


listeners = [_listener(k) for k in range(LISTENERS)]

app = fastapi.FastAPI()
inngest.fast_api.serve(app, client, [chain, fan_parent, fan_child, sleeper, backlog, *listeners])


@app.get("/chain/{i}")
async def chain_times(i: int, wait: float = 0.0) -> dict[str, float | None]:
    """When chain run ``i`` started its first step and ended; with ``wait``, the answer waits
    up to that many seconds for the end (one request parked, instead of polling the app
    while it serves the run's calls)."""
    if wait > 0 and i not in records.chain_done:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait):
                await records.chain_ended.setdefault(i, asyncio.Event()).wait()
    return {"first_step_at": records.chain_first.get(i), "ended_at": records.chain_done.get(i)}


@app.get("/fan")
async def fan() -> dict[str, Any]:
    done = records.fan_done.values()
    return {"done": len(done), "last": max(done, default=None)}


@app.get("/sleeps")
async def sleeps() -> dict[str, Any]:
    return {"done": len(records.sleeps), "runs": list(records.sleeps.values())}


@app.get("/sleeps/count")
async def sleeps_count() -> dict[str, int]:
    return {"done": len(records.sleeps)}


@app.get("/ingest")
async def ingest() -> dict[str, int]:
    return {"done": len(records.ingested)}
