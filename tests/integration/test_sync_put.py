"""The sync PUT against a small loopback app: signed as the SDKs verify it, and every way
an app can answer it turned into a reason that names the fix."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from aiohttp import web

from inlet.clock import FakeClock
from inlet.config import Settings
from inlet.errors import BadRequest
from inlet.protocol.jcs import canonical
from inlet.protocol.signing import sign, verify
from inlet.server import Server, create_app
from inlet.store.memory import MemoryStore
from inlet.sync.hosts import HostNotAllowed
from inlet.sync.syncer import Syncer

KEY = "signkey-prod-" + "ab" * 32
OTHER_KEY = "signkey-prod-" + "cd" * 32
NOW = 1_800_000_000.0
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class FakeApp:
    """A serve endpoint whose PUT handler each test chooses; it keeps what it received."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.redirected = 0
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self, put: Handler) -> str:
        async def on_put(request: web.Request) -> web.StreamResponse:
            self.requests.append((dict(request.headers), await request.read()))
            return await put(request)

        async def elsewhere(request: web.Request) -> web.StreamResponse:
            self.redirected += 1
            return web.Response(status=200)

        app = web.Application()
        app.router.add_put("/api/inngest", on_put)
        app.router.add_put("/elsewhere", elsewhere)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/api/inngest"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def in_band_answer(url: str) -> dict[str, Any]:
    return {
        "app_id": "shop",
        "framework": "fastapi",
        "sdk_language": "py",
        "sdk_version": "0.5.19",
        "url": url,
        "functions": [
            {
                "id": "shop-hello",
                "name": "hello",
                "triggers": [{"event": "shop/hello"}],
                "steps": {"step": {"id": "step", "runtime": {"url": url + "?fnId=shop-hello"}}},
            }
        ],
    }


def answer_in_band_if_signed_with(key: str) -> Handler:
    """What an SDK in cloud mode does: verify the signature over the canonical body, and
    sign the answer with the same key."""

    async def put(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        header = request.headers.get("X-Inngest-Signature", "")
        if not verify(header, canonical(json.loads(body)), [key], NOW):
            return web.json_response({"message": "Unauthorized"}, status=401)
        answer = json.dumps(in_band_answer(json.loads(body)["url"])).encode()
        return web.Response(
            body=answer,
            content_type="application/json",
            headers={
                "X-Inngest-SDK": "py:v0.5.19",
                "X-Inngest-Sync-Kind": "in_band",
                "X-Inngest-Signature": sign(answer, key, NOW),
            },
        )

    return put


@pytest.fixture
async def fake_app() -> AsyncIterator[FakeApp]:
    app = FakeApp()
    yield app
    await app.stop()


async def syncer(store: MemoryStore, **settings: Any) -> Syncer:
    async def changed() -> None:
        return None

    options: dict[str, Any] = {"discovery": False, "poll_interval": 3600.0, **settings}
    result = Syncer(store, Settings(**options), FakeClock(NOW), changed)
    await result.start()
    return result


async def test_in_production_the_put_is_signed_and_an_in_band_answer_is_stored(
    fake_app: FakeApp,
) -> None:
    url = await fake_app.start(answer_in_band_if_signed_with(KEY))
    store = MemoryStore()
    sync = await syncer(store, profile="start", signing_key=KEY)
    try:
        assert await sync.sync(url) is None
    finally:
        await sync.stop()
    headers, body = fake_app.requests[0]
    assert headers["X-Inngest-Server-Kind"] == "cloud"
    assert headers["X-Inngest-Sync-Kind"] == "in_band"
    assert json.loads(body) == {"url": url}
    [app] = await store.list_apps()
    assert (app.app_id, app.sdk, app.error) == ("shop", "py:v0.5.19", None)
    assert [f.slug for f in await store.list_functions()] == ["shop-hello"]


async def test_in_dev_the_put_is_unsigned_and_says_it_comes_from_a_dev_server(
    fake_app: FakeApp,
) -> None:
    url = await fake_app.start(answer_in_band_if_signed_with(KEY))
    sync = await syncer(MemoryStore())
    try:
        error = await sync.sync(url)
    finally:
        await sync.stop()
    headers, _ = fake_app.requests[0]
    assert "X-Inngest-Signature" not in headers
    assert headers["X-Inngest-Server-Kind"] == "dev"
    assert error is not None and "INNGEST_DEV=1" in error


async def test_a_401_is_reported_as_a_key_problem_and_recorded_on_the_app(
    fake_app: FakeApp,
) -> None:
    url = await fake_app.start(answer_in_band_if_signed_with(OTHER_KEY))
    store = MemoryStore()
    sync = await syncer(store, profile="start", signing_key=KEY)
    try:
        error = await sync.sync(url + "?secret=s3cret")
    finally:
        await sync.stop()
    assert error == (
        f"the app at {url} rejected this server's signature: it holds a different signing "
        "key, or none; give the app the key inlet start has "
        "(INNGEST_SIGNING_KEY = INLET_SIGNING_KEY)"
    )
    [app] = await store.list_apps()
    assert app.url == url and app.error == error
    assert "s3cret" not in error


async def test_a_redirect_is_not_followed_and_names_its_target(fake_app: FakeApp) -> None:
    async def put(request: web.Request) -> web.StreamResponse:
        return web.Response(status=307, headers={"Location": "/elsewhere?token=t0ken"})

    url = await fake_app.start(put)
    sync = await syncer(MemoryStore())
    try:
        error = await sync.sync(url)
    finally:
        await sync.stop()
    assert fake_app.redirected == 0
    assert error is not None
    assert "HTTP 307 redirecting to /elsewhere" in error
    assert "does not follow redirects" in error and "t0ken" not in error


async def test_an_oversized_answer_is_refused_naming_the_limit(fake_app: FakeApp) -> None:
    async def put(request: web.Request) -> web.StreamResponse:
        return web.Response(body=b"x" * (5 * 1024 * 1024), headers={"X-Inngest-SDK": "py:v1"})

    url = await fake_app.start(put)
    sync = await syncer(MemoryStore())
    try:
        error = await sync.sync(url)
    finally:
        await sync.stop()
    assert error is not None and "more than 4 MiB, the limit of a sync answer" in error


async def test_a_host_off_the_allowlist_is_neither_synced_nor_registered(
    fake_app: FakeApp,
) -> None:
    url = await fake_app.start(answer_in_band_if_signed_with(KEY))
    sync = await syncer(MemoryStore(), app_hosts=("apps.internal",))
    try:
        with pytest.raises(HostNotAllowed, match=r"'127\.0\.0\.1'.*--app-host 127\.0\.0\.1"):
            await sync.sync(url)
        with pytest.raises(HostNotAllowed, match="--app-host"):
            await sync.register({"url": url, "appName": "shop", "functions": []})
        # The app's own host is allowed, but a function pointing elsewhere is not.
        answer = in_band_answer("http://apps.internal/api/inngest")
        answer["appName"] = "shop"
        answer["functions"][0]["steps"]["step"]["runtime"]["url"] = "http://10.0.0.1/x"
        with pytest.raises(HostNotAllowed, match=r"'10\.0\.0\.1'"):
            await sync.register(answer)
    finally:
        await sync.stop()
    assert fake_app.requests == []
    assert issubclass(HostNotAllowed, BadRequest)


async def test_post_v1_apps_sync_answers_the_app_with_its_functions_or_the_error(
    fake_app: FakeApp,
) -> None:
    url = await fake_app.start(answer_in_band_if_signed_with(KEY))
    store = MemoryStore()
    # inlet dev with a key signs too, and keeps these tests free of API tokens (their
    # own tests cover them).
    settings = Settings(signing_key=KEY, discovery=False, poll_interval=3600.0)
    app = create_app(settings, store=store, clock=FakeClock(NOW))
    server: Server = app.state.server
    await store.open()
    await server.syncer.start()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://inlet") as client:
            ok = await client.post("/v1/apps/sync", json={"url": url})
            bad = await client.post("/v1/apps/sync", json={"url": "ftp://x"})
            listed = await client.get("/v1/apps")
    finally:
        await server.syncer.stop()
        await store.close()
    assert ok.status_code == 200, ok.text
    assert ok.json()["data"]["functions"] == ["shop-hello"]
    assert ok.json()["data"]["sdk"] == "py:v0.5.19"
    assert bad.status_code == 400 and "'ftp://x'" in bad.json()["error"]
    assert [a["app_id"] for a in listed.json()["data"]] == ["shop"]


async def test_post_v1_apps_sync_of_an_app_with_another_key_is_a_422_naming_the_key_problem(
    fake_app: FakeApp,
) -> None:
    url = await fake_app.start(answer_in_band_if_signed_with(OTHER_KEY))
    store = MemoryStore()
    # inlet dev with a key signs too, and keeps these tests free of API tokens (their
    # own tests cover them).
    settings = Settings(signing_key=KEY, discovery=False, poll_interval=3600.0)
    app = create_app(settings, store=store, clock=FakeClock(NOW))
    server: Server = app.state.server
    await store.open()
    await server.syncer.start()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://inlet") as client:
            resp = await client.post("/v1/apps/sync", json={"url": url})
            listed = await client.get("/v1/apps")
    finally:
        await server.syncer.stop()
        await store.close()
    assert resp.status_code == 422
    assert "rejected this server's signature" in resp.json()["error"]
    assert "rejected this server's signature" in listed.json()["data"][0]["error"]


async def test_an_app_the_store_holds_in_error_is_synced_again_on_the_next_poll(
    fake_app: FakeApp,
) -> None:
    url = await fake_app.start(answer_in_band_if_signed_with(KEY))
    store = MemoryStore()
    await store.set_app_error(url, "was down", NOW)
    sync = await syncer(store, signing_key=KEY, poll_interval=0.05)
    try:
        for _ in range(100):
            if [a.error for a in await store.list_apps()] == [None]:
                break
            await asyncio.sleep(0.05)
    finally:
        await sync.stop()
    [app] = await store.list_apps()
    assert (app.app_id, app.error) == ("shop", None)
