"""App ``accept-sync``: two functions on one event; ``ACCEPT_SYNC_DROP=1`` serves only one.

Restarting it with the variable set is how the re-sync test changes the function set.
"""

from __future__ import annotations

import logging
import os

import fastapi
import inngest
import inngest.fast_api

client = inngest.Inngest(
    app_id="accept-sync", is_production=False, logger=logging.getLogger("accept-sync-app")
)


@client.create_function(fn_id="keep", trigger=inngest.TriggerEvent(event="accept-sync/ping"))
async def keep(ctx: inngest.Context) -> str:
    return "kept"


@client.create_function(fn_id="drop", trigger=inngest.TriggerEvent(event="accept-sync/ping"))
async def drop(ctx: inngest.Context) -> str:
    return "dropped"


functions = [keep] if os.environ.get("ACCEPT_SYNC_DROP") == "1" else [keep, drop]

app = fastapi.FastAPI()
inngest.fast_api.serve(app, client, functions)
