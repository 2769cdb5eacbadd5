"""The dashboard's app (app id ``accept-dash``), for the browser tests: a function that
succeeds, one whose step fails on every attempt (so a run fails with a stack), and one
that sleeps for as long as its event asks (a run to watch live, or to cancel)."""

from __future__ import annotations

import datetime
import logging
import os
from typing import Any

import fastapi
import inngest
import inngest.fast_api

client = inngest.Inngest(
    app_id="accept-dash",
    is_production=os.environ.get("INNGEST_DEV") == "0",
    logger=logging.getLogger("accept-dash-app"),
)


@client.create_function(fn_id="hello", trigger=inngest.TriggerEvent(event="dash/hello"))
async def hello(ctx: inngest.Context) -> dict[str, Any]:
    async def greet() -> str:
        return f"hello {ctx.event.data.get('name', 'world')}"

    greeting = await ctx.step.run("greet", greet)
    return {"greeting": greeting}


class CardDeclinedError(ValueError):
    pass


def _charge(order: dict[str, Any]) -> dict[str, Any]:
    raise CardDeclinedError(f"card declined for order {order['id']}: insufficient funds")


@client.create_function(
    fn_id="charge", retries=1, trigger=inngest.TriggerEvent(event="dash/charge")
)
async def charge(ctx: inngest.Context) -> dict[str, Any]:
    async def load() -> dict[str, Any]:
        return {"id": ctx.event.data.get("order", "o-1"), "amount": 4200}

    order = await ctx.step.run("load order", load)

    async def pay() -> dict[str, Any]:
        return _charge(order)

    return await ctx.step.run("charge card", pay)


@client.create_function(fn_id="nap", trigger=inngest.TriggerEvent(event="dash/nap"))
async def nap(ctx: inngest.Context) -> dict[str, Any]:
    async def before() -> str:
        return "awake"

    await ctx.step.run("before", before)
    seconds = float(ctx.event.data.get("seconds", 2))
    await ctx.step.sleep("nap", datetime.timedelta(seconds=seconds))

    async def after() -> str:
        return "rested"

    return {"after": await ctx.step.run("after", after)}


app = fastapi.FastAPI()
inngest.fast_api.serve(app, client, [hello, charge, nap])
