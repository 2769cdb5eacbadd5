"""The start-timeout acceptance app (app id ``accept-start``): a throttled function whose
runs must start within a second, so a backlog behind the throttle times out."""

from __future__ import annotations

import datetime
import logging

import fastapi
import inngest
import inngest.fast_api

client = inngest.Inngest(
    app_id="accept-start", is_production=False, logger=logging.getLogger("accept-start-app")
)


@client.create_function(
    fn_id="throttled",
    trigger=inngest.TriggerEvent(event="start/go"),
    throttle=inngest.Throttle(limit=1, period=datetime.timedelta(seconds=30), burst=0),
    timeouts=inngest.Timeouts(start=datetime.timedelta(seconds=1)),
)
async def throttled(ctx: inngest.Context) -> str:
    return f"started {ctx.event.data['n']}"


app = fastapi.FastAPI()
inngest.fast_api.serve(app, client, [throttled])
