"""``/ui/stream``: Server-Sent Events that tell an open page its data changed, so it
refetches itself without a reload (``static/live.js``).

Each connection polls the read model about once a second for a small fingerprint of what
its page shows (a run's status, steps and attempts; a runs, events or bulk page's newest
rows; the stuck runs; a function's runs by status, pause and flow control; a bulk
operation's progress), with the count of firing alerts the navigation shows, and sends
``changed`` when it moves. Connections are bounded in number and in lifetime (the browser
reconnects by itself), and each stops as soon as its client goes away."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Final

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse

from inlet.api.runs import STUCK_VIEW_AFTER
from inlet.model import RunStatus
from inlet.store.queries import EventFilter, RunFilter
from inlet.ui.pages import PAGE, STUCK_SHOWN, RunQuery, app_functions
from inlet.ui.render import COUNTED
from inlet.ui.services import Services

POLL: Final = 1.0
"""Seconds between two looks at the store, per connection."""
LIFETIME: Final = 300.0
"""Seconds one connection lasts; the browser then reconnects (``retry``)."""
HEARTBEAT: Final = 15.0
MAX_STREAMS: Final = 64
"""Open streams per process; one more gets 503 and the page simply stays as it is."""

Fingerprint = Callable[[], Awaitable[object]]


class Stream:
    def __init__(self, services: Services, poll: float = POLL) -> None:
        self._s = services
        self._store = services.store
        self._clock = services.clock
        self._poll = poll
        self._open = 0

    async def stream(self, request: Request) -> Response:
        q = request.query_params
        run_id, op_id, page = q.get("run"), q.get("bulk"), q.get("page")
        event_id, function = q.get("event"), q.get("function")
        if run_id:
            fingerprint = self._run(run_id)
        elif event_id:
            fingerprint = self._event(event_id)
        elif op_id:
            fingerprint = self._bulk_op(op_id)
        elif page == "runs" and q.get("stuck"):
            fingerprint = self._stuck()
        elif page == "runs":
            query = RunQuery.of(request)
            fingerprint = self._runs(query, await app_functions(self._s, query.app))
        elif function:
            fingerprint = self._function(function)
        elif page == "events":
            fingerprint = self._events_page(q.get("name") or None)
        elif page == "bulk":
            fingerprint = self._bulk_ops()
        else:
            return PlainTextResponse(
                "400: expected ?run=<id>, ?event=<id>, ?bulk=<id>, ?function=<slug> or "
                "?page=runs|events|bulk\n",
                400,
            )
        if self._open >= MAX_STREAMS:
            return PlainTextResponse("503: too many live pages open; reload later\n", 503)
        fingerprint = self._with_alerts(fingerprint)
        # Looked at before the browser hears that the stream is open (and then fetches
        # its page once): a change in between is seen by one or the other.
        first = await fingerprint()
        return StreamingResponse(
            self._events(fingerprint, first),
            media_type="text/event-stream",
            headers={"x-accel-buffering": "no"},
        )

    def _with_alerts(self, page: Fingerprint) -> Fingerprint:
        """The page's fingerprint and the number of firing alerts, which every page's
        navigation shows: a live page keeps that count current too."""

        async def look() -> object:
            return (await page(), len(await self._store.list_alerts("firing", COUNTED)))

        return look

    def _run(self, run_id: str) -> Fingerprint:
        async def look() -> object:
            run = await self._store.get_run(run_id)
            if run is None:
                return None
            attempts = await self._store.history(run_id)
            return (run.status, run.step_count, run.ended_at, len(attempts))

        return look

    def _runs(self, query: RunQuery, functions: tuple[str, ...]) -> Fingerprint:
        async def look() -> object:
            # The expression is left out: the runs it would look at moving is enough.
            where = query.where(self._clock.now(), functions)
            page = await self._store.runs(where, limit=PAGE, after=query.after or None)
            return [(r.id, r.status, r.step_count) for r in page.runs]

        return look

    def _stuck(self) -> Fingerprint:
        async def look() -> object:
            now = self._clock.now()
            found = await self._store.stuck_runs(now - STUCK_VIEW_AFTER, STUCK_SHOWN)
            return [(r.id, r.status) for r in found]

        return look

    def _function(self, slug: str) -> Fingerprint:
        """What the function page shows moving: its runs by status (new, running,
        ended), paused or not, and its flow control now."""

        # Bounded reads, however many runs it has: its newest runs (a new one, one that
        # ended) and its counts of queued and running ones (an older one that ended).
        newest, active = RunFilter(function_slug=slug), (RunStatus.QUEUED, RunStatus.RUNNING)

        async def look() -> object:
            now = self._clock.now()
            page, counts, paused, flow = await asyncio.gather(
                self._store.runs(newest, limit=PAGE),
                self._store.run_counts(replace(newest, statuses=active)),
                self._store.paused_functions(),
                self._store.flow_now(slug, now),
            )
            runs = [(r.id, r.status) for r in page.runs]
            return (runs, sorted(counts.items()), paused.get(slug), flow)

        return look

    def _event(self, event_id: str) -> Fingerprint:
        async def look() -> object:
            return [(r.id, r.status) for r in await self._store.runs_for_event(event_id)]

        return look

    def _events_page(self, name: str | None) -> Fingerprint:
        async def look() -> object:
            page = await self._store.events(EventFilter(name=name), limit=1)
            return [e.internal_id for e in page.events]

        return look

    def _bulk_op(self, op_id: str) -> Fingerprint:
        async def look() -> object:
            op = await self._store.get_bulk(op_id)
            return None if op is None else (op.state, op.done, op.changed, op.error)

        return look

    def _bulk_ops(self) -> Fingerprint:
        async def look() -> object:
            return [(op.id, op.state, op.done) for op in await self._s.bulk.list()]

        return look

    async def _events(self, fingerprint: Fingerprint, last: object) -> AsyncIterator[str]:
        self._open += 1
        try:
            yield "retry: 2000\n\n"
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
