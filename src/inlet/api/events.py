"""Events: ``POST /e/{key}`` (send with an event key), ``POST /v1/events`` (send with an
API token) and the REST reads ``GET /v1/events[/{id}[/runs]]``.

``POST /e`` answers in the shape the SDKs' ``send`` parses (``ids``, ``status``, ``error``)
even when it fails, so its errors are rendered here rather than by ``api.errors``.
``POST /v1/events`` answers like the rest of ``/v1``, its error naming the ids accepted
before the bad event.

``GET /v1/events`` is one keyset read of the store's ``events`` per page.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response

from inlet.api import params
from inlet.api.render import event_detail_v1, event_v1, json_response, run_v1, wrapped
from inlet.clock import Clock
from inlet.config import Settings
from inlet.errors import BadRequest, InvalidValue, NotFound
from inlet.events.ingest import Ingestor
from inlet.runs.registry import Registry
from inlet.runs.why import explain
from inlet.store import Store
from inlet.store.queries import MAX_EVENT_PAGE, EventFilter

MAX_LIST = MAX_EVENT_PAGE
"""Most events one page of ``GET /v1/events`` returns."""
DEFAULT_LIST = 100


class EventsAPI:
    """Sending goes through the ``Ingestor`` (validate, then ``runs.apply``); reads go
    straight to the store."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        clock: Clock,
        ingestor: Ingestor,
        registry: Callable[[], Registry],
    ) -> None:
        self._registry = registry
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

    async def send_v1(self, request: Request) -> Response:
        """Send one event or an array, as ``POST /e/{key}`` does, under the API token."""
        seed = request.headers.get("x-inngest-event-id-seed")
        accepted = await self._ingestor.accept(await request.body(), seed)
        if accepted.error is not None:
            exc = accepted.error
            return json_response(
                {
                    "error": exc.message,
                    "status": exc.http_status,
                    "code": exc.code,
                    "ids": list(accepted.ids),
                },
                exc.http_status,
            )
        return wrapped({"ids": list(accepted.ids), "runs": accepted.runs}, self._clock.now())

    async def list_events(self, request: Request) -> Response:
        """Newest first, by ``name`` and received in ``[since, until)``; ``cursor`` is the
        previous page's ``metadata.next_cursor``."""
        query = request.query_params
        name = query.get("name") or None
        since = params.either(query, "since", "received_after")
        until = params.either(query, "until", "received_before")
        if since is not None and until is not None and since >= until:
            low = "since" if query.get("since") else "received_after"
            high = "until" if query.get("until") else "received_before"
            raise BadRequest(
                f"{low}={query[low]!r} is not before {high}={query[high]!r}; "
                f"expected {low} < {high}"
            )
        limit = params.limit(query, DEFAULT_LIST, MAX_LIST)
        after = params.cursor(query)

        where = EventFilter(name=name, received_after=since, received_before=until)
        page = await self._store.events(where, limit=limit, after=after)
        return wrapped([event_v1(e) for e in page.events], self._clock.now(), next_cursor=page.next)

    async def get_event(self, request: Request) -> Response:
        event_id = request.path_params["event_id"]
        detail = await self._store.event_detail(event_id)
        if detail is None:
            raise NotFound(f"event {event_id!r} not found")
        errors = {a.url: a.error for a in await self._store.list_apps() if a.error}
        why = explain(detail.event, detail.runs, detail.skips, self._registry(), errors)
        return wrapped(event_detail_v1(detail, why), self._clock.now())

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
