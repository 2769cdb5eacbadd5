"""API tokens on ``inlet start``, in process: every route outside the open list needs a
token, a viewer reads and changes nothing, an admin changes, a revoked token is refused;
the event, SDK and health routes keep their own checks; ``inlet dev`` stays open."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from inlet.api.auth import TokenAuth, exposure_warning, hash_token, is_open, new_token
from inlet.clock import FakeClock
from inlet.config import Settings
from inlet.model import App, Function, Trigger
from inlet.server import Server, create_app
from inlet.store.memory import MemoryStore
from inlet.store.tokens import TOKEN_TTL, ApiToken, Role

NOW = 1_800_000_000.0
APP = "http://app.test/api/inngest"
SIGNING_KEY = "signkey-prod-0123456789abcdef"
START = Settings(profile="start", signing_key=SIGNING_KEY, event_keys=("key",))
QUERY = "{ events(query: {}) { edges { node { id } } } }"


@dataclass
class Api:
    client: httpx.AsyncClient
    store: MemoryStore
    paths: list[tuple[str, str]]
    """Every (method, path) of the route table, path parameters filled in."""
    clock: FakeClock

    async def token(self, role: Role, name: str = "") -> str:
        secret = new_token()
        made = ApiToken(f"tok-{role}-{name}", name, role, hash_token(secret), NOW)
        await self.store.create_token(made)
        return secret

    async def run_id(self) -> str:
        sent = await self.client.post("/e/key", json={"name": "app/x", "data": {}})
        assert sent.status_code == 200, sent.text
        [event_id] = sent.json()["ids"]
        [run] = await self.store.runs_for_event(event_id)
        return run.id


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def serve(settings: Settings) -> AsyncIterator[Api]:
    store = MemoryStore()
    clock = FakeClock(NOW)
    app = create_app(settings, store=store, clock=clock)
    await store.open()
    fn = Function("app-a", APP, "a", f"{APP}?fnId=app-a", (Trigger(event="app/x"),))
    await store.save_app(App(APP, "app"), [fn])
    server: Server = app.state.server
    await server.reload_functions()
    paths = [
        (method, re.sub(r"\{[^}]+\}", "x", route.path))
        for route in app.routes
        if isinstance(route, Route)
        for method in sorted(route.methods or ())
    ]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://inlet") as client:
        yield Api(client, store, paths, clock)
    await store.close()


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    async for harness in serve(START):
        yield harness


async def test_every_route_outside_the_open_list_needs_a_token_and_says_how_to_get_one(
    api: Api,
) -> None:
    closed = [(m, p) for m, p in api.paths if not is_open(p)]
    # The route table today, so that a route missing here is noticed; future ones
    # (a dashboard, /metrics) are closed by default, as an unknown path shows.
    assert {p for _, p in closed} >= {"/v1/events", "/v1/runs/x", "/v0/gql", "/dev"}
    for method, path in [*closed, ("GET", "/metrics"), ("GET", "/"), ("GET", "/dashboard")]:
        reply = await api.client.request(method, path)
        assert reply.status_code == 401, (method, path, reply.text)
        if method != "HEAD":
            assert "inlet tokens create" in reply.json()["error"], (method, path)


async def test_a_wrong_token_or_another_scheme_gets_401(api: Api) -> None:
    await api.token("admin")
    wrong = new_token()
    for header in [f"Bearer {wrong}", f"Basic {wrong}", "Bearer ", f"Bearer {SIGNING_KEY}"]:
        reply = await api.client.get("/v1/events", headers={"Authorization": header})
        assert reply.status_code == 401, header
        assert wrong not in reply.text and SIGNING_KEY not in reply.text


async def test_a_viewer_reads_everything_and_changes_nothing(api: Api) -> None:
    viewer = bearer(await api.token("viewer", "ci"))
    run_id = await api.run_id()

    for path in ["/v1/events", "/v1/runs", f"/v1/runs/{run_id}", "/dev"]:
        reply = await api.client.get(path, headers=viewer)
        assert reply.status_code == 200, (path, reply.text)
    assert (await api.client.get("/v0/gql", params={"query": QUERY}, headers=viewer)).is_success
    assert (await api.client.post("/v0/gql", json={"query": QUERY}, headers=viewer)).is_success

    for method, path, body in [
        ("DELETE", f"/v1/runs/{run_id}", None),
        ("POST", "/v1/cancellations", {"function_id": "app-a"}),
        ("POST", "/v0/gql", {"query": "mutation { cancelRun(runID: 1) { id } }"}),
    ]:
        reply = await api.client.request(method, path, json=body, headers=viewer)
        assert reply.status_code == 403, (method, path, reply.text)
        assert "admin token" in reply.json()["error"] and "viewer" in reply.json()["error"]
    run = await api.store.get_run(run_id)
    assert run is not None and not run.status.ended


async def test_an_admin_cancels_a_run(api: Api) -> None:
    admin = bearer(await api.token("admin"))
    run_id = await api.run_id()

    reply = await api.client.delete(f"/v1/runs/{run_id}", headers=admin)

    assert reply.status_code == 200, reply.text
    run = await api.store.get_run(run_id)
    assert run is not None and run.status.ended


async def test_a_revoked_token_gets_401_naming_the_token_and_its_use_is_noted(api: Api) -> None:
    secret = await api.token("admin", "old")
    assert (await api.client.get("/v1/events", headers=bearer(secret))).status_code == 200
    [used] = await api.store.list_tokens()
    assert used.last_used_at == NOW

    assert await api.store.revoke_token(used.id, NOW + 1)
    api.clock.advance(TOKEN_TTL)  # the middleware trusts a token it found that long
    reply = await api.client.get("/v1/events", headers=bearer(secret))

    assert reply.status_code == 401
    assert "revoked" in reply.json()["error"] and used.id in reply.json()["error"]


async def test_events_sdk_routes_and_health_need_no_api_token(api: Api) -> None:
    assert (await api.client.get("/health")).status_code == 200
    sent = await api.client.post("/e/key", json={"name": "app/x", "data": {}})
    assert sent.status_code == 200
    assert (await api.client.post("/e/wrong", json={"name": "app/x"})).status_code == 401
    # The SDK routes answer with their own signing-key check, not the API token's.
    signed = bearer(SIGNING_KEY)
    assert (await api.client.get("/v0/runs/none/batch", headers=signed)).status_code == 404
    assert (await api.client.get("/v0/runs/none/actions", headers=signed)).status_code == 404
    assert (await api.client.post("/fn/register", content=b"{", headers=signed)).status_code == 400


async def test_inlet_dev_needs_no_token() -> None:
    async for api in serve(Settings()):
        for method, path in api.paths:
            # The stream of a durable endpoint's run asks its own token, in dev too.
            own_token = path == "/v1/realtime/sse"
            if method == "GET" and path.startswith(("/v1", "/dev")) and "x" not in path:
                expected = 401 if own_token else 200
                assert (await api.client.get(path)).status_code == expected, path
        assert (await api.client.post("/v0/gql", json={"query": QUERY})).status_code == 200


def test_inlet_dev_listens_on_loopback_by_default_and_warns_when_bound_elsewhere() -> None:
    assert Settings().host == "127.0.0.1"
    for host in ("127.0.0.1", "::1", "localhost", "127.0.0.2"):
        assert exposure_warning(host) is None
    warning = exposure_warning("0.0.0.0")
    assert warning is not None and "listening on 0.0.0.0, not on loopback" in warning


async def test_a_websocket_without_a_token_is_closed_before_the_app_sees_it() -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["path"])

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "websocket.connect"}

    guard = TokenAuth(app, MemoryStore(), FakeClock(NOW))
    await guard({"type": "websocket", "path": "/v1/stream", "headers": []}, receive, send)

    assert seen == [] and sent == [
        {"type": "websocket.close", "code": 1008, "reason": "unauthorized"}
    ]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(header=st.text(max_size=300), path=st.sampled_from(["/v1/events", "/v0/gql", "/dev"]))
def test_any_authorization_header_that_is_not_a_token_gets_401_never_a_crash(
    header: str, path: str
) -> None:
    async def check() -> None:
        async for api in serve(START):
            encoded = header.encode("latin-1", "replace").replace(b"\r", b"").replace(b"\n", b"")
            reply = await api.client.get(path, headers=[(b"authorization", encoded)])
            assert reply.status_code == 401, (header, reply.text)

    asyncio.run(check())
