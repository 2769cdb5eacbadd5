"""Limits every request meets before any handler parses it: a body size and a body time.

A body over ``limit`` bytes is refused with 413 naming the limit, from its Content-Length
when it sends one and otherwise as soon as the bytes read pass the limit; a client that
stops sending its body for ``idle`` seconds is answered 408 and let go, so slow clients
cannot hold the server's memory or its connections.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class _Refused(BaseException):  # a handler that catches Exception must not swallow it
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class RequestLimits:
    """ASGI middleware; ``limit`` in bytes, ``idle`` in seconds between body chunks."""

    def __init__(self, app: ASGIApp, limit: int, idle: float) -> None:
        self.app = app
        self.limit = limit
        self.idle = idle

    def _too_large(self, size: str) -> _Refused:
        return _Refused(
            413, f"the request body is {size}; this server takes at most {self.limit} bytes"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        read = 0

        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                await _answer(send, self._too_large(f"{int(value)} bytes"))
                return

        async def limited_receive() -> Message:
            nonlocal read
            # asyncio.timeout arms one timer on this task; wait_for (Python 3.11) wrapped
            # every receive in a new task, twice the CPU of the whole check.
            try:
                async with asyncio.timeout(self.idle):
                    message = await receive()
            except TimeoutError:
                raise _Refused(
                    408, f"the request body stopped arriving for {self.idle:.0f}s"
                ) from None
            if message["type"] == "http.request":
                read += len(message.get("body", b""))
                if read > self.limit:
                    raise self._too_large(f"over {self.limit} bytes")
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracked_send)
        except _Refused as refused:
            if started:
                raise
            await _answer(send, refused)


async def _answer(send: Send, refused: _Refused) -> None:
    body: dict[str, Any] = {"error": refused.message, "status": refused.status}
    payload = orjson.dumps(body)
    await send(
        {
            "type": "http.response.start",
            "status": refused.status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
