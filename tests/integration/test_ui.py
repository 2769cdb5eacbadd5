"""The dashboard in process: open in ``inlet dev``; in ``inlet start`` every page needs a
session made by logging in with a user's password or an API token, its cookie is
HttpOnly and SameSite, a change needs the form's CSRF token, the same origin and an admin;
logout and expiry end a session; the REST API still wants its bearer token."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from inlet.api.auth import hash_token, new_token
from inlet.clock import FakeClock
from inlet.config import Settings
from inlet.model import App, Function, RunStatus, Trigger
from inlet.server import Server, create_app
from inlet.store.memory import MemoryStore
from inlet.store.tokens import ApiToken, Role
from inlet.store.users import User
from inlet.ui.passwords import hash_password
from inlet.ui.sessions import TTL

NOW = 1_800_000_000.0
APP = "http://app.test/api/inngest"
START = Settings(profile="start", signing_key="signkey-prod-0123456789abcdef", event_keys=("k",))
PASSWORD = "correct horse battery"
HTML = {"Accept": "text/html"}


@dataclass
class Ui:
    client: httpx.AsyncClient
    store: MemoryStore
    clock: FakeClock

    async def run_id(self) -> str:
        sent = await self.client.post("/e/k", json={"name": "app/x", "data": {"n": 1}})
        assert sent.status_code == 200, sent.text
        [run] = await self.store.runs_for_event(sent.json()["ids"][0])
        return run.id

    async def token(self, role: Role) -> str:
        secret = new_token()
        await self.store.create_token(ApiToken(f"tok-{role}", "ci", role, hash_token(secret), NOW))
        return secret

    async def user(self, name: str, role: Role) -> None:
        await self.store.create_user(User(f"u-{name}", name, role, hash_password(PASSWORD), NOW))

    async def login(self, **fields: str) -> httpx.Response:
        return await self.client.post("/ui/login", data=fields, headers={"Origin": "http://inlet"})

    async def csrf(self, path: str) -> str:
        page = await self.client.get(path)
        assert page.status_code == 200, page.text
        found = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
        assert found, "the page has no form with a CSRF token"
        return found.group(1)


async def serve(settings: Settings) -> AsyncIterator[Ui]:
    store, clock = MemoryStore(), FakeClock(NOW)
    app = create_app(settings, store=store, clock=clock)
    await store.open()
    fn = Function("app-a", APP, "a", f"{APP}?fnId=app-a", (Trigger(event="app/x"),))
    await store.save_app(App(APP, "app", sdk="py:v0.5.19"), [fn])
    server: Server = app.state.server
    await server.reload_functions()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://inlet") as client:
        yield Ui(client, store, clock)
    await store.close()


@pytest.fixture
async def start() -> AsyncIterator[Ui]:
    async for ui in serve(START):
        yield ui


@pytest.fixture
async def dev() -> AsyncIterator[Ui]:
    async for ui in serve(Settings()):
        yield ui


async def test_inlet_dev_opens_every_page_without_a_login(dev: Ui) -> None:
    run_id = await dev.run_id()

    home = await dev.client.get("/")
    assert home.status_code == 303 and home.headers["location"] == "/ui/runs"
    for path in ["/ui/runs", f"/ui/runs/{run_id}", "/ui/apps", "/ui/functions", "/ui/events"]:
        page = await dev.client.get(path)
        assert page.status_code == 200, (path, page.text)
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert run_id in (await dev.client.get("/ui/runs")).text


async def test_a_change_needs_the_csrf_token_and_the_same_origin(dev: Ui) -> None:
    run_id = await dev.run_id()
    csrf = await dev.csrf(f"/ui/runs/{run_id}")
    cancel = f"/ui/runs/{run_id}/cancel"

    assert (await dev.client.post(cancel, data={})).status_code == 403
    assert (await dev.client.post(cancel, data={"csrf": "0" * 64})).status_code == 403
    evil = {"Origin": "http://evil.example"}
    assert (await dev.client.post(cancel, data={"csrf": csrf}, headers=evil)).status_code == 403
    run = await dev.store.get_run(run_id)
    assert run is not None and not run.status.ended

    done = await dev.client.post(cancel, data={"csrf": csrf}, headers={"Origin": "http://inlet"})
    assert done.status_code == 303 and done.headers["location"].endswith("?done=cancelled")
    run = await dev.store.get_run(run_id)
    assert run is not None and run.status is RunStatus.CANCELLED


async def test_inlet_start_sends_a_page_without_a_session_to_the_login(start: Ui) -> None:
    page = await start.client.get("/ui/runs?status=FAILED")
    assert page.status_code == 303
    assert page.headers["location"] == "/ui/login?next=%2Fui%2Fruns%3Fstatus%3DFAILED"
    home = await start.client.get("/", headers=HTML)
    assert home.status_code == 303 and home.headers["location"] == "/ui/runs"
    assert (await start.client.get("/ui/stream?page=runs")).status_code == 401
    assert (await start.client.get("/ui/login")).status_code == 200
    # An API client asking for / still hears how to get a token.
    assert (await start.client.get("/")).status_code == 401


async def test_a_token_login_makes_an_httponly_samesite_session_cookie(start: Ui) -> None:
    secret = await start.token("admin")

    reply = await start.login(mode="token", token=secret, next="/ui/apps")

    assert reply.status_code == 303 and reply.headers["location"] == "/ui/apps"
    cookie = reply.headers["set-cookie"]
    assert cookie.startswith("inlet_session=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie
    session_id = cookie.split(";")[0].split("=", 1)[1]
    assert session_id not in str(start.store._sessions)
    assert (await start.client.get("/ui/apps")).status_code == 200


async def test_the_cookie_is_secure_when_the_browser_came_over_https(start: Ui) -> None:
    secret = await start.token("admin")
    reply = await start.client.post(
        "/ui/login",
        data={"mode": "token", "token": secret},
        headers={"X-Forwarded-Proto": "https", "Origin": "http://inlet"},
    )
    assert "Secure" in reply.headers["set-cookie"]


async def test_a_user_logs_in_with_a_password_and_a_wrong_one_says_nothing_more(
    start: Ui,
) -> None:
    await start.user("ada", "admin")

    wrong = await start.login(mode="user", name="ada", password="not it at all")
    unknown = await start.login(mode="user", name="nobody", password=PASSWORD)
    assert wrong.status_code == unknown.status_code == 401
    assert "set-cookie" not in wrong.headers
    assert "not one this server accepts" in wrong.text and "not one this server" in unknown.text

    good = await start.login(mode="user", name="ada", password=PASSWORD, next="https://evil/")
    assert good.status_code == 303 and good.headers["location"] == "/ui/runs"
    page = await start.client.get("/ui/runs")
    assert page.status_code == 200 and "ada" in page.text


async def test_a_viewer_sees_no_change_buttons_and_a_forged_post_gets_403(start: Ui) -> None:
    run_id = await start.run_id()
    await start.user("vic", "viewer")
    await start.login(mode="user", name="vic", password=PASSWORD)

    run_page = await start.client.get(f"/ui/runs/{run_id}")
    apps_page = await start.client.get("/ui/apps")
    assert run_page.status_code == apps_page.status_code == 200
    assert "cancel-run" not in run_page.text
    assert "sync-button" not in apps_page.text and "sync-new" not in apps_page.text
    csrf = await start.csrf("/ui/runs")  # the logout form's

    forged = await start.client.post(
        f"/ui/runs/{run_id}/cancel", data={"csrf": csrf}, headers={"Origin": "http://inlet"}
    )
    assert forged.status_code == 403 and "viewer" in forged.text
    run = await start.store.get_run(run_id)
    assert run is not None and not run.status.ended


async def test_an_admin_post_without_the_csrf_token_gets_403(start: Ui) -> None:
    run_id = await start.run_id()
    await start.login(mode="token", token=await start.token("admin"))

    reply = await start.client.post(f"/ui/runs/{run_id}/cancel", data={})

    assert reply.status_code == 403
    run = await start.store.get_run(run_id)
    assert run is not None and not run.status.ended


async def test_logout_ends_the_session_for_good(start: Ui) -> None:
    await start.login(mode="token", token=await start.token("viewer"))
    cookie = start.client.cookies["inlet_session"]
    csrf = await start.csrf("/ui/runs")

    out = await start.client.post("/ui/logout", data={"csrf": csrf})

    assert out.status_code == 303 and out.headers["location"] == "/ui/login"
    assert "Max-Age=0" in out.headers["set-cookie"]
    start.client.cookies.set("inlet_session", cookie)
    assert (await start.client.get("/ui/runs")).status_code == 303
    assert start.store._sessions == {}


async def test_a_session_slides_while_used_and_expires_when_left(start: Ui) -> None:
    await start.login(mode="token", token=await start.token("viewer"))

    start.clock.advance(TTL - 60)
    assert (await start.client.get("/ui/runs")).status_code == 200
    start.clock.advance(TTL - 60)
    assert (await start.client.get("/ui/runs")).status_code == 200
    start.clock.advance(TTL + 1)
    assert (await start.client.get("/ui/runs")).status_code == 303


async def test_the_api_still_wants_its_bearer_token_with_a_session_cookie(start: Ui) -> None:
    await start.login(mode="token", token=await start.token("admin"))

    assert (await start.client.get("/v1/runs")).status_code == 401


async def test_the_runs_page_filters_by_status_and_function(dev: Ui) -> None:
    run_id = await dev.run_id()

    assert run_id in (await dev.client.get("/ui/runs?status=QUEUED")).text
    assert run_id not in (await dev.client.get("/ui/runs?status=RUNNING")).text
    assert run_id in (await dev.client.get("/ui/runs?function=app-a&range=1h")).text
    assert run_id not in (await dev.client.get("/ui/runs?function=other")).text
    assert run_id not in (await dev.client.get("/ui/runs?q=nothing-like-it")).text


async def test_a_session_made_with_a_token_ends_when_the_token_is_revoked(start: Ui) -> None:
    await start.login(mode="token", token=await start.token("viewer"))
    assert (await start.client.get("/ui/runs")).status_code == 200

    assert await start.store.revoke_token("tok-viewer", NOW)
    start.clock.advance(5)

    assert (await start.client.get("/ui/runs")).status_code == 303
    assert start.store._sessions == {}


async def test_a_client_with_ten_failed_logins_is_refused_for_a_while(start: Ui) -> None:
    await start.user("ada", "admin")
    for _ in range(10):
        assert (await start.login(mode="user", name="ada", password="guess")).status_code == 401

    refused = await start.login(mode="user", name="ada", password=PASSWORD)

    assert refused.status_code == 429 and "Too many failed logins" in refused.text
    assert "set-cookie" not in refused.headers
    start.clock.advance(901)
    assert (await start.login(mode="user", name="ada", password=PASSWORD)).status_code == 303


async def test_the_runs_pages_follow_each_other_by_keyset_without_overlap(dev: Ui) -> None:
    sent = await dev.client.post("/e/k", json=[{"name": "app/x", "data": {}}] * 60)
    assert sent.status_code == 200, sent.text

    first = await dev.client.get("/ui/runs")
    older = re.search(r'href="(/ui/runs\?[^"]*after=[^"]+)" id="older"', first.text)
    assert older, "the first page of 60 runs links to older ones"
    second = await dev.client.get(older.group(1).replace("&amp;", "&"))

    ids = [re.findall(r'data-run="([0-9A-Z]+)"', page.text) for page in (first, second)]
    assert [len(found) for found in ids] == [50, 10]
    assert not set(ids[0]) & set(ids[1])
    assert 'id="older"' not in second.text and "Newest" in second.text
