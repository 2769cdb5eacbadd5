"""The streams of durable endpoints that went async (docs/protocol.md, "Durable
endpoints").

When a durable endpoint goes async its client follows ``inngest.redirect_info`` to
``GET /v1/realtime/sse?token=...``; each later call of the run that streams (or ends)
posts its SSE bytes to ``POST /v1/realtime/publish/tee?channel={run_id}``. Inlet relays
them as they come: a channel keeps what was posted to it (so a client that connects late
still gets all of it) until it has been quiet for ``CHANNEL_TTL`` seconds. Channels live in
the process's memory: with several ``inlet start`` processes, the SDK's post and the
client's connection must reach the same one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse

from inlet.api.render import json_response
from inlet.api.sdk import check_bearer
from inlet.config import Settings
from inlet.errors import BadRequest, Unauthorized
from inlet.steps.endpoint import run_token, token_valid

CHANNEL_TTL = 600.0
"""Seconds a channel nobody posts to is kept."""

HEARTBEAT = 10.0
"""Seconds between keep-alive comments on an open stream."""

MAX_STREAM_SECONDS = 900.0
"""How long one client connection stays open."""


@dataclass
class _Channel:
    chunks: list[bytes] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    touched: float = 0.0


class Broker:
    """Channels by run id: what was posted, and who waits for more."""

    def __init__(self) -> None:
        self._channels: dict[str, _Channel] = {}

    def publish(self, channel: str, chunk: bytes, now: float) -> None:
        self._expire(now)
        found = self._channels.setdefault(channel, _Channel())
        found.chunks.append(chunk)
        found.touched = now
        found.changed.set()
        found.changed = asyncio.Event()

    async def follow(self, channel: str, deadline: float) -> AsyncGenerator[bytes]:
        """What was posted to ``channel``, then what is posted to it, with a heartbeat
        comment when it is quiet, until ``deadline`` (monotonic)."""
        found = self._channels.setdefault(channel, _Channel(touched=time.monotonic()))
        sent = 0
        yield b":\n\n"
        while time.monotonic() < deadline:
            while sent < len(found.chunks):
                yield found.chunks[sent]
                sent += 1
            waiting = found.changed
            try:
                await asyncio.wait_for(waiting.wait(), HEARTBEAT)
            except TimeoutError:
                yield b":\n\n"
            found = self._channels.get(channel, found)

    def _expire(self, now: float) -> None:
        for name in [n for n, c in self._channels.items() if now - c.touched > CHANNEL_TTL]:
            del self._channels[name]


def stream_token(secret: str, run_id: str) -> str:
    """The token that lets a client follow ``run_id``'s stream: ``run_id.mac``."""
    return f"{run_id}.{run_token(secret, run_id, 'stream')}"


def stream_channel(secret: str, token: str) -> str | None:
    """The run id ``token`` gives access to, or None."""
    run_id, _, mac = token.partition(".")
    return run_id if run_id and token_valid(secret, run_id, mac, "stream") else None


class StreamsAPI:
    def __init__(self, settings: Settings, secret: str) -> None:
        self._settings = settings
        self._secret = secret
        self.broker = Broker()

    async def publish(self, request: Request) -> Response:
        check_bearer(self._settings, request)
        channel = request.query_params.get("channel", "")
        if not channel:
            raise BadRequest("channel= is missing; post to ?channel=<run id>")
        try:
            async for chunk in request.stream():
                if chunk:
                    self.broker.publish(channel, chunk, time.monotonic())
        except ClientDisconnect:
            # The endpoint's call ended mid-post (the SDK stops streaming when its handler
            # returns or dies): what arrived is kept, and nobody is left to answer.
            return Response(status_code=204)
        return json_response({})

    async def follow(self, request: Request) -> Response:
        token = request.query_params.get("token", "")
        channel = stream_channel(self._secret, token)
        if channel is None:
            raise Unauthorized(
                f"token={token[:12]!r}... does not open a run's stream; follow the URL of "
                "the inngest.redirect_info event, token included"
            )
        chunks = self.broker.follow(channel, time.monotonic() + MAX_STREAM_SECONDS)
        return StreamingResponse(
            chunks,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache"},
        )
