"""Errors to responses: every ``InletError`` becomes ``{"error", "status", "code"}`` with
its own HTTP status, and Starlette's own (unknown route, wrong method) keep its status.

Handlers raise and never build error bodies themselves, so one exception tree gives one
error shape across the REST API. The event API and GraphQL answer in the shapes their
clients parse instead, and say so where they do it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from inlet.api.render import json_response
from inlet.errors import InletError


def error_response(exc: InletError) -> Response:
    return json_response(
        {"error": exc.message, "status": exc.http_status, "code": exc.code}, exc.http_status
    )


async def _inlet_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, InletError)
    return error_response(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return json_response({"error": exc.detail, "status": exc.status_code}, exc.status_code)


HANDLERS: Mapping[type[Exception], Callable[[Request, Exception], Awaitable[Response]]] = {
    InletError: _inlet_error,
    HTTPException: _http_error,
}
"""Starlette's ``exception_handlers``."""
