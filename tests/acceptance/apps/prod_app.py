"""App ``accept-prod``: the official SDK in production mode (``INNGEST_DEV=0``).

Its keys and base URLs come from the environment the test gives it (``INNGEST_SIGNING_KEY``,
``INNGEST_SIGNING_KEY_FALLBACK``, ``INNGEST_API_BASE_URL``...). In production the SDK
refuses unsigned calls, so a run that completes proves Inlet signed them.

``stripped`` is the same app behind a proxy that drops ``X-Inngest-Signature`` from the
app's answers: what a forged or rewritten response looks like to Inlet.
"""

from __future__ import annotations

import datetime
import logging
from typing import Any

import fastapi
import inngest
import inngest.fast_api

from .common import record

client = inngest.Inngest(app_id="accept-prod", logger=logging.getLogger("accept-prod-app"))


@client.create_function(fn_id="nap", trigger=inngest.TriggerEvent(event="prod/nap"))
async def nap(ctx: inngest.Context) -> dict[str, Any]:
    key = str(ctx.event.data.get("key", ""))

    async def before() -> str:
        record("step", fn="nap", step="before", key=key)
        return key

    async def after() -> str:
        record("step", fn="nap", step="after", key=key)
        return key

    await ctx.step.run("before", before)
    await ctx.step.sleep("nap", datetime.timedelta(seconds=float(ctx.event.data["seconds"])))
    await ctx.step.run("after", after)
    return {"key": key}


@client.create_function(fn_id="greet", trigger=inngest.TriggerEvent(event="prod/greet"), retries=1)
async def greet(ctx: inngest.Context) -> str:
    async def hello() -> str:
        record("step", fn="greet", step="hello", key=ctx.event.data.get("key"))
        return "hello"

    return await ctx.step.run("hello", hello)


app = fastapi.FastAPI()
inngest.fast_api.serve(app, client, [nap, greet])


class _DropSignature:
    """ASGI middleware that removes ``X-Inngest-Signature`` from every POST's answer."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.inner(scope, receive, send)
            return

        async def forward(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v) for k, v in message["headers"] if k.lower() != b"x-inngest-signature"
                ]
                message = {**message, "headers": headers}
            await send(message)

        await self.inner(scope, receive, forward)


stripped = _DropSignature(app)
