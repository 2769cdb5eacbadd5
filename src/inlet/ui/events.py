"""The dashboard's event pages: the events as they arrive (live, paged) with the runs each
started or why none did (one read a page: ``store.event_outcomes``), a form that sends
one through the same ingest path as ``POST /v1/events``, and one event: its payload, the
runs it started and, for every function that did not run, why (a recorded skip: paused,
rate limited, a duplicate...; its trigger's condition was false; it listens to other
events)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final
from urllib.parse import urlencode

import orjson
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from inlet.errors import InletError
from inlet.expr import compile_expression
from inlet.model import Event, Function, SkipRecord
from inlet.steps.waits import INVOKED
from inlet.store.outcomes import EventOutcome
from inlet.store.queries import EventFilter
from inlet.ui import views
from inlet.ui.render import form, html
from inlet.ui.services import Services

PAGE: Final = 50


@dataclass(frozen=True, slots=True)
class WhyNot:
    """Why one function did not run for an event; ``matched``: its trigger matched."""

    slug: str
    reason: str
    matched: bool


def _listens(trigger_event: str, name: str) -> bool:
    if trigger_event.endswith("*"):
        return name.startswith(trigger_event[:-1])
    return trigger_event == name


def why_not(
    event: Event, functions: list[Function], ran: set[str], skips: list[SkipRecord]
) -> list[WhyNot]:
    """For every function that has no run of ``event``, the reason: its recorded skip,
    else what its triggers say about this event. Matched ones first."""
    skipped = {s.function_slug: s.reason for s in skips}
    found = []
    for fn in sorted(functions, key=lambda f: f.slug):
        if fn.slug in ran:
            continue
        if fn.slug in skipped:
            found.append(WhyNot(fn.slug, f"Skipped: {skipped[fn.slug]}", True))
            continue
        found.append(_by_triggers(event, fn))
    return sorted(found, key=lambda w: not w.matched)


def _by_triggers(event: Event, fn: Function) -> WhyNot:
    if event.name == INVOKED:
        return WhyNot(fn.slug, "This invoke named another function", False)
    wire = None
    for t in fn.triggers:
        if t.event is None or not _listens(t.event, event.name):
            continue
        if not t.expression:
            return WhyNot(
                fn.slug,
                "Its trigger matches, but no run or skip was recorded "
                "(was it synced after the event arrived?)",
                True,
            )
        wire = wire or {"event": event.to_wire()}
        try:
            if compile_expression(t.expression).matches(wire):
                continue
        except InletError as exc:
            return WhyNot(fn.slug, f"Its condition can't be evaluated: {exc.message}", True)
        return WhyNot(fn.slug, f"Its condition {t.expression!r} is false for this event", True)
    listens = [t.event for t in fn.triggers if t.event] + [
        f"cron {t.cron}" for t in fn.triggers if t.cron
    ]
    return WhyNot(fn.slug, "It is triggered by " + (", ".join(listens) or "nothing"), False)


@dataclass(frozen=True, slots=True)
class Started:
    """What one event of the events list led to: its runs (a link to the one, or to the
    event's page for several), else why none started."""

    count: int
    link: str
    statuses: tuple[str, ...]
    skipped: str
    more_skips: int
    listened: bool


def started(event: Event, outcome: EventOutcome, functions: list[Function]) -> Started:
    runs = outcome.runs
    link = ""
    if len(runs) == 1:
        link = f"/ui/runs/{runs[0].id}"
    elif runs:
        link = f"/ui/events/{event.internal_id}"
    skips = outcome.skips
    return Started(
        count=len(runs),
        link=link,
        statuses=tuple(sorted({views.status_name(r.status) for r in runs})),
        skipped=f"{skips[0].function_slug}: {skips[0].reason}" if skips else "",
        more_skips=max(0, len(skips) - 1),
        listened=event.name == INVOKED
        or any(t.event and _listens(t.event, event.name) for f in functions for t in f.triggers),
    )


class EventPages:
    def __init__(self, services: Services) -> None:
        self._s = services

    async def index(
        self, request: Request, error: str = "", status: int = 200, sent: tuple[str, str] = ("", "")
    ) -> Response:
        name = request.query_params.get("name", "").strip()
        after = request.query_params.get("after", "").strip() or None
        where = EventFilter(name=name or None)
        try:
            page = await self._s.store.events(where, limit=PAGE, after=after)
        except InletError:
            page, after = await self._s.store.events(where, limit=PAGE), None
        now = self._s.clock.now()
        # One read for the whole page: the runs each event started and its skips.
        outcomes = await self._s.store.event_outcomes([e.internal_id for e in page.events])
        functions = list(self._s.registry().functions.values())
        rows = [
            (
                e,
                views.ago(e.received_at or e.ts / 1000, now),
                views.pretty(e.data)[:400],
                started(e, outcomes.get(e.internal_id, EventOutcome()), functions),
            )
            for e in page.events
        ]
        query = {"name": name} if name else {}
        return html(
            request,
            "events.html",
            status,
            section="events",
            rows=rows,
            name=name,
            error=error,
            sent_name=sent[0] or name,
            sent_data=sent[1] or "{}",
            next_link="/ui/events?" + urlencode({**query, "after": page.next}) if page.next else "",
            first_link="/ui/events?" + urlencode(query) if after else "",
            live="/ui/stream?" + urlencode({"page": "events", **query}) if not after else "",
        )

    async def send(self, request: Request) -> Response:
        """One event, as ``POST /e/{key}`` would take it; the browser goes to its page."""
        fields = await form(request)
        name, text = fields.get("name", "").strip(), fields.get("data", "").strip() or "{}"
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            problem = f"The data is not valid JSON ({exc}); expected an object such as {{}}"
            return await self.index(request, problem, 400, (name, text))
        body = orjson.dumps({"name": name, "data": data})
        try:
            accepted = await self._s.ingestor.accept(body, None)
        except InletError as exc:
            return await self.index(request, exc.message, exc.http_status, (name, text))
        if accepted.error is not None or not accepted.ids:
            problem = accepted.error.message if accepted.error else "the event was not accepted"
            return await self.index(request, problem, 400, (name, text))
        return RedirectResponse(f"/ui/events/{accepted.ids[0]}?done=sent", status_code=303)

    async def detail(self, request: Request) -> Response:
        event_id = request.path_params["event_id"]
        found = await self._s.store.event_detail(event_id)
        if found is None:
            return html(request, "missing.html", 404, what=f"event {event_id}", section="events")
        now = self._s.clock.now()
        event = found.event
        functions = list(self._s.registry().functions.values())
        ran = {r.function_slug for r in found.runs}
        return html(
            request,
            "event.html",
            section="events",
            event=event,
            received=views.when(event.received_at or event.ts / 1000),
            received_ago=views.ago(event.received_at or event.ts / 1000, now),
            payload=views.pretty(event.to_wire()),
            runs=[views.run_row(r, None, None, now, 0) for r in found.runs],
            why=why_not(event, functions, ran, list(found.skips)),
            done=request.query_params.get("done", ""),
            live=f"/ui/stream?event={event_id}"
            if any(not r.status.ended for r in found.runs)
            else "",
        )
