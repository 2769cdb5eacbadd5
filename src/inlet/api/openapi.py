"""``GET /v1/openapi.json``: the OpenAPI 3 document of the REST API, shipped as package data
(``openapi.json`` beside this module) and served as it is stored.

The document is written by hand; tests/integration/test_openapi.py checks it against the
route table (every route documented with its methods and path parameters, nothing
documented that is not served) and tests/contract/ checks the answers against it.
"""

from __future__ import annotations

import functools
from importlib import resources

from starlette.requests import Request
from starlette.responses import Response


@functools.cache
def document() -> bytes:
    return resources.files("inlet.api").joinpath("openapi.json").read_bytes()


async def openapi(request: Request) -> Response:
    return Response(document(), media_type="application/json")
