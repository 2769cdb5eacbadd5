"""The alert acceptance app (app id ``accept-alert``): the seed incident. ``charge`` runs
every minute and on ``alert/order``; its step reads ``ACCEPT_STRIPE_KEY`` from the
environment and fails (``KeyError``, no retries) while it is missing."""

from __future__ import annotations

import logging
import os

import fastapi
import inngest
import inngest.fast_api

from .common import record

client = inngest.Inngest(
    app_id="accept-alert", is_production=False, logger=logging.getLogger("accept-alert-app")
)


@client.create_function(
    fn_id="charge",
    trigger=[inngest.TriggerEvent(event="alert/order"), inngest.TriggerCron(cron="* * * * *")],
    retries=0,
)
async def charge(ctx: inngest.Context) -> str:
    def call_stripe() -> str:
        key = os.environ["ACCEPT_STRIPE_KEY"]
        record("alert.charged", run_id=ctx.run_id)
        return f"charged with a key of {len(key)} characters"

    return await ctx.step.run("call-stripe", call_stripe)


app = fastapi.FastAPI()
inngest.fast_api.serve(app, client, [charge])
