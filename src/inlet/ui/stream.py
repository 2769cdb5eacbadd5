"""``/ui/stream``: Server-Sent Events that tell an open page its data changed, so it
refetches itself without a reload (``static/live.js``).

Each connection polls the read model about once a second for a small fingerprint of what
its page shows (a run's status, steps and attempts; a runs page's ids and statuses) and
sends ``changed`` when it moves. Connections are bounded in number and in lifetime (the
browser reconnects by itself), and each stops as soon as its client goes away."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Final

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse

from inlet.clock import Clock
from inlet.store import Store
from inlet.ui.pages import PAGE, RunQuery

POLL: Final = 1.0
"""Seconds between two looks at the store, per connection."""
LIFETIME: Final = 300.0
"""Seconds one connection lasts; the browser then reconnects (``retry``)."""
HEARTBEAT: Final = 15.0
MAX_STREAMS: Final = 64
"""Open streams per process; one more gets 503 and the page simply stays as it is."""

Fingerprint = Callable[[], Awaitable[object]]


class Stream:
    def __init__(self, store: Store, clock: Clock, poll: float = POLL) -> None:
        self._store = store
        self._clock = clock
        self._poll = poll
        self._open = 0

    async def stream(self, request: Request) -> Response:
        run_id = request.query_params.get("run")
        if run_id:
            fingerprint = self._run(run_id)
        elif request.query_params.get("page") == "runs":
            fingerprint = self._runs(RunQuery.of(request))
        else:
            return PlainTextResponse("400: expected ?run=<id> or ?page=runs\n", 400)
        if self._open >= MAX_STREAMS:
            return PlainTextResponse("503: too many live pages open; reload later\n", 503)
        return StreamingResponse(
            self._events(fingerprint),
            media_type="text/event-stream",
            headers={"x-accel-buffering": "no"},
        )

    def _run(self, run_id: str) -> Fingerprint:
        async def look() -> object:
            run = await self._store.get_run(run_id)
            if run is None:
                return None
            attempts = await self._store.history(run_id)
            return (run.status, run.step_count, run.ended_at, len(attempts))

        return look

    def _runs(self, query: RunQuery) -> Fingerprint:
        async def look() -> object:
            where = query.where(self._clock.now())
            page = await self._store.runs(where, limit=PAGE, after=query.after or None)
            return [(r.id, r.status, r.step_count) for r in page.runs]

        return look

    async def _events(self, fingerprint: Fingerprint) -> AsyncIterator[str]:
        self._open += 1
        try:
            yield "retry: 2000\n\n"
            last = await fingerprint()
            started = beat = time.monotonic()
            while time.monotonic() - started < LIFETIME:
                await asyncio.sleep(self._poll)
                seen = await fingerprint()
                if seen != last:
                    last = seen
                    yield "event: changed\ndata: {}\n\n"
                elif time.monotonic() - beat >= HEARTBEAT:
                    beat = time.monotonic()
                    yield ": still here\n\n"
        finally:
            self._open -= 1
