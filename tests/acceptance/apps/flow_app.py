"""App ``accept-flow``: one function per flow-control option the server must enforce.

Every event carries a unique ``data.key`` chosen by the test and every step body journals
it (``apps/common.py``), with the wall-clock times the body started and ended, so the
tests can check overlap and ordering from the app's side.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import time
from typing import Any

import fastapi
import inngest
import inngest.fast_api

from .common import record

client = inngest.Inngest(
    app_id="accept-flow", is_production=False, logger=logging.getLogger("accept-flow-app")
)

# How long the bodies of the concurrency functions hold their call in flight.
SERIAL_HOLD_SECONDS = 0.4
THREE_HOLD_SECONDS = 0.3
PER_USER_HOLD_SECONDS = 1.0
THROTTLE_PERIOD_SECONDS = 2.0
DEBOUNCE_PERIOD_SECONDS = 2.0
BATCH_TIMEOUT_SECONDS = 2.0


def _key(ctx: inngest.Context) -> str:
    return str(ctx.event.data.get("key", ""))


async def _span(fn: str, ctx: inngest.Context, hold: float) -> dict[str, Any]:
    """One step whose body journals when it started and ended, holding ``hold`` seconds."""

    async def body() -> dict[str, Any]:
        started = time.time()
        record("start", fn=fn, key=_key(ctx), run_id=ctx.run_id, data=ctx.event.data)
        await asyncio.sleep(hold)
        ended = time.time()
        record(
            "span",
            fn=fn,
            key=_key(ctx),
            run_id=ctx.run_id,
            data=ctx.event.data,
            t_start=started,
            t_end=ended,
        )
        return {"t_start": started, "t_end": ended}

    return await ctx.step.run("work", body)


@client.create_function(
    fn_id="serial",
    concurrency=[inngest.Concurrency(limit=1)],
    trigger=inngest.TriggerEvent(event="flow/serial"),
)
async def serial(ctx: inngest.Context) -> dict[str, Any]:
    return await _span("serial", ctx, SERIAL_HOLD_SECONDS)


@client.create_function(
    fn_id="three-at-once",
    concurrency=[inngest.Concurrency(limit=3)],
    trigger=inngest.TriggerEvent(event="flow/three-at-once"),
)
async def three_at_once(ctx: inngest.Context) -> dict[str, Any]:
    return await _span("three-at-once", ctx, THREE_HOLD_SECONDS)


@client.create_function(
    fn_id="per-user",
    concurrency=[inngest.Concurrency(limit=1, key="event.data.user")],
    trigger=inngest.TriggerEvent(event="flow/per-user"),
)
async def per_user(ctx: inngest.Context) -> dict[str, Any]:
    return await _span("per-user", ctx, PER_USER_HOLD_SECONDS)


@client.create_function(
    fn_id="throttled",
    throttle=inngest.Throttle(
        limit=1, period=datetime.timedelta(seconds=THROTTLE_PERIOD_SECONDS), burst=0
    ),
    trigger=inngest.TriggerEvent(event="flow/throttled"),
)
async def throttled(ctx: inngest.Context) -> dict[str, Any]:
    return await _span("throttled", ctx, 0.0)


@client.create_function(
    fn_id="rate-limited",
    rate_limit=inngest.RateLimit(limit=1, period=datetime.timedelta(seconds=60)),
    trigger=inngest.TriggerEvent(event="flow/rate-limited"),
)
async def rate_limited(ctx: inngest.Context) -> dict[str, Any]:
    record("run", fn="rate-limited", key=_key(ctx), data=ctx.event.data)
    return dict(ctx.event.data)


@client.create_function(
    fn_id="debounced",
    debounce=inngest.Debounce(
        period=datetime.timedelta(seconds=DEBOUNCE_PERIOD_SECONDS), key="event.data.key"
    ),
    trigger=inngest.TriggerEvent(event="flow/debounced"),
)
async def debounced(ctx: inngest.Context) -> dict[str, Any]:
    record("run", fn="debounced", key=_key(ctx), run_id=ctx.run_id, data=ctx.event.data)
    return dict(ctx.event.data)


def _batch_output(fn: str, ctx: inngest.Context) -> dict[str, Any]:
    datas = [dict(e.data) for e in ctx.events]
    record("run", fn=fn, key=_key(ctx), run_id=ctx.run_id, events=datas)
    return {"count": len(datas), "events": datas}


@client.create_function(
    fn_id="batch-size",
    # The timeout is far beyond the test's deadline: only a full batch can start the run.
    batch_events=inngest.Batch(max_size=3, timeout=datetime.timedelta(seconds=60)),
    trigger=inngest.TriggerEvent(event="flow/batch-size"),
)
async def batch_size(ctx: inngest.Context) -> dict[str, Any]:
    return _batch_output("batch-size", ctx)


@client.create_function(
    fn_id="batch-timeout",
    batch_events=inngest.Batch(
        max_size=10, timeout=datetime.timedelta(seconds=BATCH_TIMEOUT_SECONDS)
    ),
    trigger=inngest.TriggerEvent(event="flow/batch-timeout"),
)
async def batch_timeout(ctx: inngest.Context) -> dict[str, Any]:
    return _batch_output("batch-timeout", ctx)


@client.create_function(
    fn_id="prioritised",
    concurrency=[inngest.Concurrency(limit=1)],
    priority=inngest.Priority(run="event.data.p"),
    trigger=inngest.TriggerEvent(event="flow/prioritised"),
)
async def prioritised(ctx: inngest.Context) -> dict[str, Any]:
    return await _span("prioritised", ctx, float(ctx.event.data.get("hold", 0.05)))


@client.create_function(
    fn_id="idempotent",
    idempotency="event.data.id",
    trigger=inngest.TriggerEvent(event="flow/idempotent"),
)
async def idempotent(ctx: inngest.Context) -> dict[str, Any]:
    record("run", fn="idempotent", key=_key(ctx), data=ctx.event.data)
    return dict(ctx.event.data)


@client.create_function(fn_id="plain", trigger=inngest.TriggerEvent(event="flow/plain"))
async def plain(ctx: inngest.Context) -> dict[str, Any]:
    record("run", fn="plain", key=_key(ctx), data=ctx.event.data)
    return dict(ctx.event.data)


async def _sleep_then_finish(fn: str, ctx: inngest.Context) -> dict[str, Any]:
    """Journal the start, sleep ``data.sleep`` seconds (a durable sleep), journal the end."""
    key, n = _key(ctx), ctx.event.data.get("n")

    async def begin() -> str:
        record("begin", fn=fn, key=key, n=n, run_id=ctx.run_id)
        return "begun"

    async def finish() -> str:
        record("finish", fn=fn, key=key, n=n, run_id=ctx.run_id)
        return "finished"

    await ctx.step.run("begin", begin)
    await ctx.step.sleep("nap", datetime.timedelta(seconds=float(ctx.event.data["sleep"])))
    await ctx.step.run("finish", finish)
    return {"n": n}


@client.create_function(
    fn_id="singleton-skip",
    singleton=inngest.Singleton(key="event.data.key", mode="skip"),
    trigger=inngest.TriggerEvent(event="flow/singleton-skip"),
)
async def singleton_skip(ctx: inngest.Context) -> dict[str, Any]:
    return await _sleep_then_finish("singleton-skip", ctx)


@client.create_function(
    fn_id="singleton-cancel",
    singleton=inngest.Singleton(key="event.data.key", mode="cancel"),
    trigger=inngest.TriggerEvent(event="flow/singleton-cancel"),
)
async def singleton_cancel(ctx: inngest.Context) -> dict[str, Any]:
    return await _sleep_then_finish("singleton-cancel", ctx)


FUNCTIONS = [
    serial,
    three_at_once,
    per_user,
    throttled,
    rate_limited,
    debounced,
    batch_size,
    batch_timeout,
    prioritised,
    idempotent,
    plain,
    singleton_skip,
    singleton_cancel,
]

FUNCTION_IDS = [f.id for f in FUNCTIONS]

app = fastapi.FastAPI()
inngest.fast_api.serve(app, client, FUNCTIONS)
