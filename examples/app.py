"""An example app built with the official Inngest Python SDK, served by FastAPI.

Run it with `inlet dev` (see README.md), then send an event:
    curl -X POST http://127.0.0.1:8288/e/key \
        -d '{"name": "shop/order.placed", "data": {"order": 1}}'
"""

from __future__ import annotations

import logging

import fastapi
import inngest
import inngest.fast_api

client = inngest.Inngest(app_id="shop", logger=logging.getLogger("uvicorn"))


@client.create_function(
    fn_id="fulfil-order",
    trigger=inngest.TriggerEvent(event="shop/order.placed"),
    retries=2,
)
async def fulfil_order(ctx: inngest.Context) -> dict[str, object]:
    order = ctx.event.data.get("order")

    async def reserve() -> dict[str, object]:
        return {"order": order, "reserved": True}

    async def charge() -> dict[str, object]:
        return {"order": order, "charged_cents": 4200}

    async def ship() -> str:
        return f"shipment-for-{order}"

    reserved = await ctx.step.run("reserve-stock", reserve)
    payment = await ctx.step.run("charge-card", charge)
    shipment = await ctx.step.run("create-shipment", ship)
    return {"reserved": reserved, "payment": payment, "shipment": shipment}


@client.create_function(
    fn_id="notify-on-failure",
    trigger=inngest.TriggerEvent(event="inngest/function.failed"),
)
async def notify_on_failure(ctx: inngest.Context) -> str:
    return f"would page someone about {ctx.event.data.get('function_id')}"


app = fastapi.FastAPI()
inngest.fast_api.serve(app, client, [fulfil_order, notify_on_failure])
