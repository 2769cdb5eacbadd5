"""Not an SDK: answers 200 ``{}`` to every request, without an ``X-Inngest-SDK`` header.

It stands in for a proxy or a wrong service answering on the app's URL.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def anything(request: Request) -> JSONResponse:
    await request.body()
    return JSONResponse({})


app = Starlette(
    routes=[Route("/{path:path}", anything, methods=["GET", "POST", "PUT", "DELETE", "PATCH"])]
)
