"""The dashboard's route table: every ``/ui`` path behind ``DashboardGuard``, and ``/``
sending a browser to the runs.

The app's table holds plain ``Route``s only (tests and the OpenAPI check read it), so each
dashboard path is listed there and handed to one guarded router that dispatches it."""

from __future__ import annotations

from importlib import resources
from typing import Final

from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route, Router

from inlet.ui.alerts import AlertPages, FiringCount
from inlet.ui.bulk import BulkPages
from inlet.ui.events import EventPages
from inlet.ui.functions import FunctionPages
from inlet.ui.guard import DashboardGuard
from inlet.ui.login import Login
from inlet.ui.pages import Pages
from inlet.ui.services import Services
from inlet.ui.stream import Stream

TYPES: Final = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}


class Static:
    """The files of ``static/``, read once: nothing else on disk can be asked for."""

    def __init__(self) -> None:
        folder = resources.files("inlet.ui").joinpath("static")
        self._files = {
            entry.name: (entry.read_bytes(), TYPES[suffix])
            for entry in folder.iterdir()
            if (suffix := "." + entry.name.rpartition(".")[2]) in TYPES
        }

    async def serve(self, request: Request) -> Response:
        found = self._files.get(request.path_params["name"])
        if found is None:
            return PlainTextResponse("404: no such dashboard file\n", 404)
        body, media_type = found
        return Response(body, media_type=media_type, headers={"cache-control": "max-age=300"})


def dashboard(services: Services, *, sessions: bool) -> list[Route]:
    """``sessions``: whether a page needs a login (``inlet start``), or not (``inlet dev``)."""
    store, clock = services.store, services.clock
    pages, login, stream = Pages(services), Login(store, clock, sessions=sessions), Stream(services)
    functions, events, bulk = FunctionPages(services), EventPages(services), BulkPages(services)
    alerts = AlertPages(store, clock)
    table = [
        Route("/ui/login", login.page, methods=["GET"]),
        Route("/ui/login", login.submit, methods=["POST"]),
        Route("/ui/logout", login.logout, methods=["POST"]),
        Route("/ui", pages.home, methods=["GET"]),
        Route("/ui/", pages.home, methods=["GET"]),
        Route("/ui/runs", pages.runs, methods=["GET"]),
        Route("/ui/runs/{run_id}", pages.run, methods=["GET"]),
        Route("/ui/runs/{run_id}/cancel", pages.cancel, methods=["POST"]),
        Route("/ui/runs/{run_id}/rerun", pages.rerun, methods=["POST"]),
        Route("/ui/functions", functions.index, methods=["GET"]),
        Route("/ui/functions/{slug}", functions.detail, methods=["GET"]),
        Route("/ui/functions/{slug}/pause", functions.pause, methods=["POST"]),
        Route("/ui/functions/{slug}/resume", functions.resume, methods=["POST"]),
        Route("/ui/functions/{slug}/invoke", functions.invoke, methods=["POST"]),
        Route("/ui/functions/{slug}/bulk", bulk.preview, methods=["GET"]),
        Route("/ui/events", events.index, methods=["GET"]),
        Route("/ui/events/send", events.send, methods=["POST"]),
        Route("/ui/events/{event_id}", events.detail, methods=["GET"]),
        Route("/ui/bulk", bulk.index, methods=["GET"]),
        Route("/ui/bulk", bulk.create, methods=["POST"]),
        Route("/ui/bulk/{op_id}", bulk.detail, methods=["GET"]),
        Route("/ui/bulk/{op_id}/cancel", bulk.cancel, methods=["POST"]),
        Route("/ui/apps", pages.apps, methods=["GET"]),
        Route("/ui/apps/sync", pages.sync, methods=["POST"]),
        Route("/ui/alerts", alerts.index, methods=["GET"]),
        Route("/ui/stream", stream.stream, methods=["GET"]),
        Route("/ui/static/{name}", Static().serve, methods=["GET"]),
    ]
    guarded = Router(
        routes=table,
        middleware=[
            Middleware(DashboardGuard, store=store, clock=clock, sessions=sessions),
            Middleware(FiringCount, store=store),
        ],
    )
    return [
        Route("/", pages.home, methods=["GET"]),
        *(Route(r.path, guarded, methods=sorted(r.methods or ())) for r in table),
    ]
