"""The dashboard's app (app id ``accept-dash``), for the browser tests: a function that
succeeds, one whose step fails on every attempt (so a run fails with a stack), one that
sleeps for as long as its event asks (a run to watch live, or to cancel), one whose first
step counts its calls and whose second fails until the test flips its group's flag
(``POST /dash/flag/{group}``; a rerun from the second step must not count again), one
that listens to ``dash/hello`` only for VIPs, and a cron that never fires in a test (to
run now)."""

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


COUNTS: dict[str, int] = {}
FLAGS: set[str] = set()


@client.create_function(fn_id="flaky", retries=0, trigger=inngest.TriggerEvent(event="dash/flaky"))
async def flaky(ctx: inngest.Context) -> dict[str, Any]:
    group = str(ctx.event.data.get("group", "default"))

    async def count() -> int:
        COUNTS[group] = COUNTS.get(group, 0) + 1
        return COUNTS[group]

    counted = await ctx.step.run("count", count)

    async def check() -> str:
        if group not in FLAGS:
            raise RuntimeError(f"the flag of group {group} is off")
        return "flag on"

    return {"counted": counted, "check": await ctx.step.run("check", check)}


@client.create_function(
    fn_id="vip",
    trigger=inngest.TriggerEvent(event="dash/hello", expression="event.data.vip == true"),
)
async def vip(ctx: inngest.Context) -> str:
    return "welcome"


@client.create_function(fn_id="tick", trigger=inngest.TriggerCron(cron="0 0 1 1 *"))
async def tick(ctx: inngest.Context) -> dict[str, Any]:
    return {"ticked": dict(ctx.event.data)}


app = fastapi.FastAPI()


@app.post("/dash/flag/{group}")
async def flag(group: str) -> dict[str, bool]:
    FLAGS.add(group)
    return {"on": True}


@app.get("/dash/count/{group}")
async def counted(group: str) -> dict[str, int]:
    return {"count": COUNTS.get(group, 0)}


inngest.fast_api.serve(app, client, [hello, charge, nap, flaky, vip, tick])
