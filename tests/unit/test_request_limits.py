"""Request limits: a body over the limit gets 413 naming it, a stalled body 408, before any
handler parses it."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from inlet.api.limits import RequestLimits


async def echo(request: Request) -> JSONResponse:
    try:
        body = await request.body()
    except Exception:  # a handler that swallows errors must not swallow the refusal
        return JSONResponse({"swallowed": True})
    return JSONResponse({"bytes": len(body)})


def app(limit: int = 100, idle: float = 5.0) -> RequestLimits:
    inner = Starlette(routes=[Route("/e", echo, methods=["POST"])])
    return RequestLimits(inner, limit=limit, idle=idle)


async def post(asgi: Any, content: Any) -> httpx.Response:
    transport = httpx.ASGITransport(app=asgi)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.post("/e", content=content)


async def test_a_body_within_the_limit_reaches_the_handler() -> None:
    reply = await post(app(), b"x" * 100)
    assert reply.status_code == 200 and reply.json() == {"bytes": 100}


async def test_a_declared_length_over_the_limit_is_refused_with_the_limit_named() -> None:
    reply = await post(app(), b"x" * 101)
    assert reply.status_code == 413
    assert reply.json()["error"] == (
        "the request body is 101 bytes; this server takes at most 100 bytes"
    )


async def test_a_streamed_body_is_cut_off_once_it_passes_the_limit() -> None:
    async def chunks() -> Any:
        for _ in range(5):
            yield b"x" * 40

    reply = await post(app(), chunks())
    assert reply.status_code == 413 and "at most 100 bytes" in reply.json()["error"]


async def test_a_body_that_stops_arriving_is_answered_408() -> None:
    async def stalls() -> Any:
        yield b"x"
        await asyncio.sleep(30)
        yield b"y"

    reply = await asyncio.wait_for(post(app(idle=0.2), stalls()), 10)
    assert reply.status_code == 408 and "stopped arriving" in reply.json()["error"]
