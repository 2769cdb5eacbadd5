"""``GET /v1/apps`` (the synced apps, their functions and sync errors) and
``POST /v1/apps/sync`` (sync one app now: the "Sync app" button and ``inlet apps sync``)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from inlet.api.render import iso, json_response, wrapped
from inlet.clock import Clock
from inlet.errors import BadRequest
from inlet.model import App, Function
from inlet.store import Store
from inlet.sync.register import app_url
from inlet.sync.syncer import Syncer

MAX_SYNC_REQUEST_BYTES = 8 * 1024


def app_v1(app: App, functions: list[Function]) -> dict[str, Any]:
    return {
        "url": app.url,
        "app_id": app.app_id,
        "sdk": app.sdk,
        "framework": app.framework,
        "functions": sorted(fn.slug for fn in functions if fn.app_url == app.url),
        "synced_at": iso(app.synced_at) if app.synced_at else None,
        "error": app.error,
    }


class AppsAPI:
    def __init__(self, store: Store, clock: Clock, syncer: Syncer) -> None:
        self._store = store
        self._clock = clock
        self._syncer = syncer

    async def list_apps(self, request: Request) -> Response:
        functions = await self._store.list_functions()
        apps = [app_v1(a, functions) for a in await self._store.list_apps()]
        return wrapped(apps, self._clock.now())

    async def sync(self, request: Request) -> Response:
        """Sync the app at ``{"url": ...}``: 200 with the app and its functions, or 422
        with the app and the reason its sync failed (the URL given leads to no app this
        server can use: unreachable, another key, not an SDK; a 4xx, as the fix is the
        caller's)."""
        body = await request.body()
        if len(body) > MAX_SYNC_REQUEST_BYTES:
            raise BadRequest(
                f"the sync request is {len(body)} bytes; expected at most "
                f'{MAX_SYNC_REQUEST_BYTES}: {{"url": "<app serve URL>"}}'
            )
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            payload = None
        url = payload.get("url") if isinstance(payload, dict) else None
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise BadRequest(
                f"POST /v1/apps/sync needs the app's serve URL, got {url!r}; expected "
                '{"url": "https://app.example.com/api/inngest"}'
            )
        error = await self._syncer.sync(url)
        functions = await self._store.list_functions()
        wanted = app_url(url)
        app = next((a for a in await self._store.list_apps() if a.url == wanted), None)
        shown = app_v1(app or App(url=wanted, app_id="", error=error), functions)
        if error is not None:
            # The store may hold an older success of a process sharing it: show this sync's.
            shown["error"] = error
            return json_response({"data": shown, "error": error}, 422)
        return wrapped(shown, self._clock.now())
