"""The OpenAPI document served at ``/v1/openapi.json`` against the code: it is valid
OpenAPI 3, every documented route is served, and every served ``/v1``, ``/e`` and
``/health`` route is documented with the same methods and path parameters."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from openapi_spec_validator import validate
from starlette.routing import Route

from inlet.api.auth import is_open
from inlet.api.openapi import document
from inlet.clock import FakeClock
from inlet.config import Settings
from inlet.server import create_app
from inlet.store.memory import MemoryStore

DOCUMENTED = re.compile(r"/v1(/.*)?|/e(/.*)?|/health(/ready)?")
METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def served() -> dict[str, tuple[set[str], set[str]]]:
    """Each documented-kind path of the route table: its methods and path parameters."""
    app = create_app(Settings(), store=MemoryStore(), clock=FakeClock(0))
    table: dict[str, tuple[set[str], set[str]]] = {}
    for route in app.routes:
        assert isinstance(route, Route)
        if not DOCUMENTED.fullmatch(route.path):
            continue
        # Starlette answers HEAD wherever it answers GET; the document need not say so.
        methods = {m.lower() for m in route.methods or ()} - {"head"}
        known, _ = table.setdefault(route.path, (set(), set(route.param_convertors)))
        known.update(methods)
    return table


def described() -> dict[str, tuple[set[str], set[str]]]:
    spec = orjson.loads(document())
    table = {}
    for path, item in spec["paths"].items():
        methods = {m for m in item if m in METHODS}
        names = {p["name"] for p in item.get("parameters", []) if p["in"] == "path"}
        for method in methods:
            names |= {p["name"] for p in item[method].get("parameters", []) if p["in"] == "path"}
        table[path] = (methods, names)
    return table


def test_the_document_is_valid_openapi_3() -> None:
    spec = orjson.loads(document())
    assert spec["openapi"].startswith("3.")
    validate(spec)


def test_every_served_route_is_documented_with_its_methods_and_path_parameters() -> None:
    documented = described()
    for path, (methods, params) in served().items():
        assert path in documented, f"{path} is served but not in api/openapi.json"
        assert documented[path][0] == methods, (path, documented[path][0], methods)
        assert documented[path][1] == params, (path, documented[path][1], params)


def test_every_documented_path_is_served() -> None:
    assert set(described()) - set(served()) == set()


def test_every_operation_documents_its_errors_with_the_error_schema() -> None:
    spec = orjson.loads(document())
    refs = orjson.dumps(spec["components"]["responses"]).decode()
    assert refs.count('"#/components/schemas/Error"') == len(spec["components"]["responses"])
    for path, item in spec["paths"].items():
        for method in set(item) & METHODS:
            codes = set(item[method]["responses"])
            assert codes & {"200", "201"} or path in ("/e", "/e/"), (method, path)
            if path.startswith("/v1") and not is_open(path):
                assert {"401", "403"} <= codes, (method, path)
            elif path.startswith("/v1"):  # an SDK's route: the signing key, no roles
                assert "401" in codes, (method, path)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(), store=MemoryStore(), clock=FakeClock(0))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://inlet") as client:
        yield client


async def test_the_document_is_served_at_v1_openapi_json(client: httpx.AsyncClient) -> None:
    reply = await client.get("/v1/openapi.json")
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "application/json"
    body: dict[str, Any] = reply.json()
    assert body["info"]["title"] == "Inlet REST API"
    assert "/v1/functions/{slug}/invoke" in body["paths"]
