"""A durable endpoint's stream post that ends mid-body (``inlet.api.streams``): the chunks
that arrived are relayed, and the handler answers instead of raising (it used to log a
traceback and a 500 each time an SDK call ended while it streamed)."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request

from inlet.api.streams import StreamsAPI
from inlet.config import Settings

RUN = "01KSTREAMRUN00000000000001"


def request_that_disconnects(chunk: bytes) -> Request:
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": chunk, "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/realtime/publish/tee",
        "query_string": f"channel={RUN}".encode(),
        "headers": [],
    }
    return Request(scope, receive)


async def test_a_post_cut_off_mid_body_keeps_what_arrived_and_answers() -> None:
    api = StreamsAPI(Settings(database_url="memory://", discovery=False), secret="s")
    chunk = b'event: inngest.stream\ndata: {"data":"hi"}\n\n'

    resp = await api.publish(request_that_disconnects(chunk))

    assert resp.status_code == 204
    stream = api.broker.follow(RUN, deadline=float("inf"))
    assert await anext(stream) == b":\n\n"  # the opening comment
    assert await asyncio.wait_for(anext(stream), 1) == chunk
    await stream.aclose()
