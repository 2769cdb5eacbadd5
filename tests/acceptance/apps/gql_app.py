"""The GraphQL acceptance app (app id ``accept-gql``): one function per kind of span the
``/v0/gql`` trace shows (steps with repeated ids, retries, failure, parallel steps, sleep,
wait and invoke). Every event carries a unique ``data.key`` chosen by the test.
"""

from __future__ import annotations

import datetime
import logging
from typing import Any

import fastapi
import inngest
import inngest.fast_api

from .common import CallRecorder, count, record

client = inngest.Inngest(
    app_id="accept-gql", is_production=False, logger=logging.getLogger("accept-gql-app")
)


def _key(ctx: inngest.Context) -> str:
    return str(ctx.event.data.get("key", ""))


@client.create_function(fn_id="steps", trigger=inngest.TriggerEvent(event="gql/steps"))
async def steps(ctx: inngest.Context) -> dict[str, Any]:
    async def one() -> int:
        return 1

    async def two(a: int) -> dict[str, Any]:
        return {"two": a + 1, "none": None}

    async def dup(n: int) -> int:
        return n * 10

    a = await ctx.step.run("one", one)
    b = await ctx.step.run("two", two, a)
    first = await ctx.step.run("dup", dup, 1)
    second = await ctx.step.run("dup", dup, 2)
    return {"a": a, "b": b, "dups": [first, second], "key": _key(ctx)}


@client.create_function(
    fn_id="retry-ok", retries=2, trigger=inngest.TriggerEvent(event="gql/retry-ok")
)
async def retry_ok(ctx: inngest.Context) -> str:
    key = _key(ctx)

    async def flaky() -> str:
        before = count("step", fn="retry-ok", key=key)
        record("step", fn="retry-ok", key=key)
        if before == 0:
            raise RuntimeError("first try fails")
        return f"ok after {before + 1}"

    return await ctx.step.run("flaky", flaky)


class GqlError(Exception):
    pass


@client.create_function(fn_id="fails", retries=1, trigger=inngest.TriggerEvent(event="gql/fails"))
async def fails(ctx: inngest.Context) -> None:
    key = _key(ctx)

    async def ok() -> str:
        return "fine"

    async def broken() -> None:
        raise GqlError(f"broken {key}")

    await ctx.step.run("ok", ok)
    await ctx.step.run("broken", broken)


@client.create_function(fn_id="parallel", trigger=inngest.TriggerEvent(event="gql/parallel"))
async def parallel(ctx: inngest.Context) -> dict[str, Any]:
    async def fa() -> str:
        return "A"

    async def fb() -> str:
        return "B"

    async def fc(a: str, b: str) -> str:
        return a + b + "C"

    a, b = await ctx.group.parallel((lambda: ctx.step.run("a", fa), lambda: ctx.step.run("b", fb)))
    c = await ctx.step.run("c", fc, a, b)
    return {"c": c}


@client.create_function(fn_id="child", trigger=inngest.TriggerEvent(event="gql/child-unused"))
async def child(ctx: inngest.Context) -> dict[str, Any]:
    return {"child": ctx.event.data.get("n")}


@client.create_function(fn_id="waits", trigger=inngest.TriggerEvent(event="gql/waits"))
async def waits(ctx: inngest.Context) -> dict[str, Any]:
    await ctx.step.sleep("nap", datetime.timedelta(seconds=1))
    got = await ctx.step.wait_for_event(
        "wait-go",
        event="gql/go",
        if_exp="async.data.key == event.data.key",
        timeout=datetime.timedelta(seconds=60),
    )
    invoked = await ctx.step.invoke("call-child", function=child, data={"n": 7})
    return {"go": got.data if got is not None else None, "invoked": invoked}


FUNCTIONS = [steps, retry_ok, fails, parallel, child, waits]

app = fastapi.FastAPI()
inngest.fast_api.serve(app, client, FUNCTIONS)
app.add_middleware(CallRecorder)
