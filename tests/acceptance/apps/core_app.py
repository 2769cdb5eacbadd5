"""The main acceptance app (app id ``accept``): one function per behaviour under test.

Every event carries a unique ``data.key`` chosen by the test, and every step body
records ``key`` in the journal, so tests sharing one app never read each other's effects.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import logging
import random
import time
import uuid
from typing import Any

import fastapi
import inngest
import inngest.fast_api

from .common import RETRY_AFTER_SECONDS, CallRecorder, count, record

client = inngest.Inngest(
    app_id="accept", is_production=False, logger=logging.getLogger("accept-app")
)


def _key(ctx: inngest.Context) -> str:
    return str(ctx.event.data.get("key", ""))


@client.create_function(fn_id="fanout-a", trigger=inngest.TriggerEvent(event="accept/fanout"))
async def fanout_a(ctx: inngest.Context) -> dict[str, Any]:
    record("run", fn="fanout-a", key=_key(ctx))
    return {"fn": "a", "key": _key(ctx)}


@client.create_function(fn_id="fanout-b", trigger=inngest.TriggerEvent(event="accept/fanout"))
async def fanout_b(ctx: inngest.Context) -> dict[str, Any]:
    record("run", fn="fanout-b", key=_key(ctx))
    return {"fn": "b", "key": _key(ctx)}


@client.create_function(
    fn_id="expr",
    trigger=inngest.TriggerEvent(event="accept/expr", expression="event.data.n > 1"),
)
async def expr(ctx: inngest.Context) -> dict[str, Any]:
    return {"n": ctx.event.data["n"]}


@client.create_function(fn_id="item", trigger=inngest.TriggerEvent(event="accept/item"))
async def item(ctx: inngest.Context) -> dict[str, Any]:
    return {"i": ctx.event.data.get("i"), "key": _key(ctx)}


@client.create_function(fn_id="three-steps", trigger=inngest.TriggerEvent(event="accept/three"))
async def three_steps(ctx: inngest.Context) -> dict[str, Any]:
    key = _key(ctx)

    async def one() -> int:
        record("step", fn="three-steps", step="one", key=key)
        return int(ctx.event.data["x"]) + 1

    async def two(a: int) -> int:
        record("step", fn="three-steps", step="two", key=key)
        return a * 10

    async def three(b: int) -> str:
        record("step", fn="three-steps", step="three", key=key)
        return f"{b}-three"

    a = await ctx.step.run("one", one)
    b = await ctx.step.run("two", two, a)
    c = await ctx.step.run("three", three, b)
    return {"one": a, "two": b, "three": c}


@client.create_function(fn_id="parallel", trigger=inngest.TriggerEvent(event="accept/parallel"))
async def parallel(ctx: inngest.Context) -> dict[str, Any]:
    key = _key(ctx)

    async def fa() -> str:
        record("step", fn="parallel", step="a", key=key)
        return "A"

    async def fb() -> str:
        record("step", fn="parallel", step="b", key=key)
        return "B"

    async def fc(a: str, b: str) -> str:
        record("step", fn="parallel", step="c", key=key)
        return a + b + "C"

    a, b = await ctx.group.parallel((lambda: ctx.step.run("a", fa), lambda: ctx.step.run("b", fb)))
    c = await ctx.step.run("c", fc, a, b)
    return {"a": a, "b": b, "c": c}


@client.create_function(
    fn_id="flaky", retries=3, trigger=inngest.TriggerEvent(event="accept/flaky")
)
async def flaky(ctx: inngest.Context) -> dict[str, Any]:
    key = _key(ctx)

    async def attempt() -> dict[str, Any]:
        before = count("step", fn="flaky", step="flaky", key=key)
        record("step", fn="flaky", step="flaky", key=key, attempt=ctx.attempt)
        if before < 2:
            raise RuntimeError(f"flaky failure number {before + 1}")
        return {"attempt": ctx.attempt, "executions": before + 1}

    return await ctx.step.run("flaky", attempt)


@client.create_function(
    fn_id="no-retries", retries=0, trigger=inngest.TriggerEvent(event="accept/no-retries")
)
async def no_retries(ctx: inngest.Context) -> None:
    record("exec", fn="no-retries", key=_key(ctx), attempt=ctx.attempt)
    raise RuntimeError("no-retries always fails")


@client.create_function(
    fn_id="non-retriable", retries=3, trigger=inngest.TriggerEvent(event="accept/non-retriable")
)
async def non_retriable(ctx: inngest.Context) -> None:
    record("exec", fn="non-retriable", key=_key(ctx), attempt=ctx.attempt)
    raise inngest.NonRetriableError("non-retriable: give up now")


@client.create_function(
    fn_id="retry-after", retries=3, trigger=inngest.TriggerEvent(event="accept/retry-after")
)
async def retry_after(ctx: inngest.Context) -> dict[str, Any]:
    key = _key(ctx)
    before = count("exec", fn="retry-after", key=key)
    record("exec", fn="retry-after", key=key, attempt=ctx.attempt)
    if before == 0:
        raise inngest.RetryAfterError(
            "come back later", retry_after=datetime.timedelta(seconds=RETRY_AFTER_SECONDS)
        )
    return {"executions": before + 1}


async def _on_failure(ctx: inngest.Context) -> None:
    record("on_failure", name=ctx.event.name, data=ctx.event.data, key=_failed_key(ctx))


def _failed_key(ctx: inngest.Context) -> str:
    original = ctx.event.data.get("event") or {}
    return str((original.get("data") or {}).get("key", ""))


@client.create_function(
    fn_id="with-failure",
    retries=0,
    on_failure=_on_failure,
    trigger=inngest.TriggerEvent(event="accept/with-failure"),
)
async def with_failure(ctx: inngest.Context) -> None:
    raise ValueError(f"boom {_key(ctx)}")


@client.create_function(
    fn_id="failure-watcher", trigger=inngest.TriggerEvent(event="inngest/function.failed")
)
async def failure_watcher(ctx: inngest.Context) -> None:
    record("watched_failure", event_id=ctx.event.id, data=ctx.event.data)


@client.create_function(fn_id="big-state", trigger=inngest.TriggerEvent(event="accept/big"))
async def big_state(ctx: inngest.Context) -> dict[str, Any]:
    key = _key(ctx)

    async def produce() -> str:
        record("step", fn="big-state", step="produce", key=key)
        return "x" * 5000 + key

    async def consume(blob: str) -> dict[str, Any]:
        record("step", fn="big-state", step="consume", key=key)
        return {"len": len(blob), "sha256": hashlib.sha256(blob.encode()).hexdigest()}

    blob = await ctx.step.run("produce", produce)
    summary = await ctx.step.run("consume", consume, blob)
    return {**summary, "tail": blob[-len(key) :] if key else ""}


@client.create_function(fn_id="durable", trigger=inngest.TriggerEvent(event="accept/durable"))
async def durable(ctx: inngest.Context) -> dict[str, Any]:
    key = _key(ctx)

    def body(step: str) -> Any:
        async def run(previous: str | None = None) -> str:
            started = time.time()
            await asyncio.sleep(random.uniform(0.3, 0.5))
            token = uuid.uuid4().hex
            record(
                "durable_step",
                step=step,
                key=key,
                token=token,
                input=previous,
                t_start=started,
            )
            return token

        return run

    a = await ctx.step.run("a", body("a"))
    b = await ctx.step.run("b", body("b"), a)
    c = await ctx.step.run("c", body("c"), b)
    return {"a": a, "b": b, "c": c}


@client.create_function(
    fn_id="patient", retries=20, trigger=inngest.TriggerEvent(event="accept/patient")
)
async def patient(ctx: inngest.Context) -> str:
    key = _key(ctx)

    async def work() -> str:
        record("step", fn="patient", step="work", key=key)
        return f"done-{key}"

    return await ctx.step.run("work", work)


FUNCTIONS = [
    fanout_a,
    fanout_b,
    expr,
    item,
    three_steps,
    parallel,
    flaky,
    no_retries,
    non_retriable,
    retry_after,
    with_failure,
    failure_watcher,
    big_state,
    durable,
    patient,
]

app = fastapi.FastAPI()
inngest.fast_api.serve(app, client, FUNCTIONS)
app.add_middleware(CallRecorder)
