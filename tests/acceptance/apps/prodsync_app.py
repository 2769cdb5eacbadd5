"""App ``accept-prodsync``: the official SDK in production mode, for the sync-by-URL tests.

Keys, mode and base URLs come from the environment the test sets (``INNGEST_DEV=0``,
``INNGEST_SIGNING_KEY``, ``INNGEST_EVENT_KEY``, ``INNGEST_BASE_URL``...). It refuses
unsigned calls and unsigned in-band syncs, so a completed run proves both were signed.
"""

from __future__ import annotations

import logging

import fastapi
import inngest
import inngest.fast_api

from .common import record

client = inngest.Inngest(app_id="accept-prodsync", logger=logging.getLogger("accept-prodsync"))


@client.create_function(fn_id="greet", trigger=inngest.TriggerEvent(event="prodsync/greet"))
async def greet(ctx: inngest.Context) -> str:
    async def hello() -> str:
        record("prodsync.step", run_id=ctx.run_id)
        return "hello " + str(ctx.event.data.get("name", ""))

    return await ctx.step.run("hello", hello)


app = fastapi.FastAPI()
inngest.fast_api.serve(app, client, [greet])
