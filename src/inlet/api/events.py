"""Events: ``POST /e/{key}`` (send) and the REST reads ``GET /v1/events[/{id}[/runs]]``.

``POST /e`` answers in the shape the SDKs' ``send`` parses (``ids``, ``status``, ``error``)
even when it fails, so its errors are rendered here rather than by ``api.errors``.
"""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import Response

from inlet.api.render import event_detail_v1, event_v1, json_response, run_v1, wrapped
from inlet.clock import Clock
from inlet.config import Settings
from inlet.errors import BadRequest, InvalidValue, NotFound
from inlet.events.ingest import Ingestor
from inlet.store import Store

MAX_LIST = 1000
"""Most events ``GET /v1/events`` returns, whatever ``limit`` asks for."""


class EventsAPI:
    """Sending goes through the ``Ingestor`` (validate, then ``runs.apply``); reads go
    straight to the store."""

    def __init__(self, settings: Settings, store: Store, clock: Clock, ingestor: Ingestor) -> None:
        self._settings = settings
        self._store = store
        self._clock = clock
        self._ingestor = ingestor

    async def send(self, request: Request) -> Response:
        key = request.path_params["key"]
        if self._settings.profile == "start" and not _known_key(key, self._settings.event_keys):
            return json_response(
                {"status": 401, "message": "", "error": "Event key not found"}, 401
            )
        body = await request.body()
        seed = request.headers.get("x-inngest-event-id-seed")
        try:
            accepted = await self._ingestor.accept(body, seed)
        except (BadRequest, InvalidValue) as exc:
            return json_response(
                {"ids": [], "status": exc.http_status, "error": exc.message}, exc.http_status
            )
        if accepted.error is not None:
            status = accepted.error.http_status
            return json_response(
                {"ids": list(accepted.ids), "status": status, "error": accepted.error.message},
                status,
            )
        return json_response({"ids": list(accepted.ids), "status": 200})

    async def send_without_key(self, request: Request) -> Response:
        return json_response(
            {
                "ids": [],
                "status": 400,
                "error": "the event key is missing from the path: send events to "
                "POST /e/{event_key} (any key is accepted by inlet dev)",
            },
            400,
        )

    async def list_events(self, request: Request) -> Response:
        name = request.query_params.get("name")
        try:
            limit = min(int(request.query_params.get("limit", "100")), MAX_LIST)
        except ValueError:
            raise BadRequest("limit must be a whole number") from None
        events = await self._store.list_events(name, limit)
        return wrapped([event_v1(e) for e in events], self._clock.now())

    async def get_event(self, request: Request) -> Response:
        event_id = request.path_params["event_id"]
        detail = await self._store.event_detail(event_id)
        if detail is None:
            raise NotFound(f"event {event_id!r} not found")
        return wrapped(event_detail_v1(detail), self._clock.now())

    async def event_runs(self, request: Request) -> Response:
        runs = await self._store.runs_for_event(request.path_params["event_id"])
        return wrapped([run_v1(r) for r in runs], self._clock.now())


def _known_key(presented: str, keys: tuple[str, ...]) -> bool:
    """Whether ``presented`` is one of ``keys``, in time that does not depend on which key
    matched or how many leading characters did."""
    given = presented.encode("utf-8")
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(key.encode("utf-8"), given)
    return matched
