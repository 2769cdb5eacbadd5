"""``GET /v1/doctor`` in process, against a loopback app that answers the probe as an SDK in
production mode does (verify the signature over the empty body, answer signed with the
same key), on a real SQLite file: each verdict, and the token ``inlet start`` asks for."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from aiohttp import web

from inlet.api.auth import hash_token, new_token
from inlet.clock import FakeClock
from inlet.config import DatabaseURL, Settings
from inlet.doctor.checks import database_check
from inlet.doctor.database import database_status
from inlet.model import App, Function, Trigger
from inlet.protocol.signing import sign, verify
from inlet.server import create_app
from inlet.store.postgres import migrate
from inlet.store.sqlite import SQLiteStore
from inlet.store.tokens import ApiToken

KEY = "signkey-prod-" + "ab" * 32
OTHER_KEY = "signkey-prod-" + "cd" * 32
EVENT_KEY = "event-key-1"
NOW = 1_800_000_000.0


class CloudApp:
    """A serve endpoint in production mode holding ``key``: 401 to a probe it cannot
    verify, else its introspection, signed."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> str:
        async def get(request: web.Request) -> web.StreamResponse:
            header = request.headers.get("X-Inngest-Signature", "")
            if not verify(header, b"", [self.key], NOW):
                return web.json_response(
                    {"message": "Unauthorized"},
                    status=401,
                    headers={"X-Inngest-SDK-Handled": "true"},
                )
            info = {
                "authentication_succeeded": True,
                "mode": "cloud",
                "event_key_hash": hashlib.sha256(EVENT_KEY.encode()).hexdigest(),
            }
            body = json.dumps(info).encode()
            headers = {
                "X-Inngest-SDK": "py:v0.5.19",
                "X-Inngest-Signature": sign(body, self.key, NOW),
            }
            return web.Response(body=body, content_type="application/json", headers=headers)

        app = web.Application()
        app.router.add_get("/api/inngest", get)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/api/inngest"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


class Inlet:
    def __init__(self, tmp_path: Path) -> None:
        self.path = tmp_path / "inlet.db"
        self.store = SQLiteStore(str(self.path))
        settings = Settings(
            profile="start",
            signing_key=KEY,
            event_keys=(EVENT_KEY,),
            database_url=f"sqlite:///{self.path}",
            discovery=False,
            poll_interval=3600.0,
        )
        self.app = create_app(settings, store=self.store, clock=FakeClock(NOW))
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://inlet.test"
        )

    async def token(self) -> str:
        secret = new_token()
        await self.store.create_token(ApiToken("tok-v", "ci", "viewer", hash_token(secret), NOW))
        return secret

    async def add_app(self, url: str, **config: Any) -> None:
        fn = Function(
            "shop-charge",
            url,
            "charge",
            url + "?fnId=shop-charge",
            (Trigger(event="shop/order"),),
            config={"id": "shop-charge", **config},
        )
        await self.store.save_app(App(url=url, app_id="shop", synced_at=NOW), [fn])

    async def doctor(self) -> dict[str, Any]:
        resp = await self.client.get(
            "/v1/doctor", headers={"Authorization": f"Bearer {await self.token()}"}
        )
        assert resp.status_code == 200, resp.text
        data: dict[str, Any] = resp.json()["data"]
        return data


@pytest.fixture
async def inlet(tmp_path: Path) -> AsyncIterator[Inlet]:
    made = Inlet(tmp_path)
    async with made.app.state.server.lifespan(made.app):
        yield made
    await made.client.aclose()


@pytest.fixture
async def cloud_app() -> AsyncIterator[CloudApp]:
    app = CloudApp(KEY)
    await app.start()
    yield app
    await app.stop()


def verdicts(data: dict[str, Any], subject: str | None = None) -> dict[str, str]:
    return {
        c["id"]: c["verdict"] for c in data["checks"] if subject is None or c["subject"] == subject
    }


async def test_a_healthy_app_and_database_pass_and_ok_is_true(
    inlet: Inlet, cloud_app: CloudApp
) -> None:
    await inlet.add_app(cloud_app.url)
    data = await inlet.doctor()
    assert (data["ok"], data["profile"]) == (True, "start")
    assert verdicts(data, cloud_app.url) == {
        "app.reachable": "pass",
        "app.mode": "pass",
        "app.signing_key": "pass",
        "app.event_key": "pass",
        "app.clock": "pass",
    }
    found = verdicts(data)
    assert (found["database"], found["expressions"], found["event_keys"]) == ("pass",) * 3


async def test_without_a_token_inlet_start_answers_401(inlet: Inlet) -> None:
    assert (await inlet.client.get("/v1/doctor")).status_code == 401


async def test_an_app_with_another_key_fails_naming_the_app(inlet: Inlet) -> None:
    other = CloudApp(OTHER_KEY)
    url = await other.start()
    try:
        await inlet.add_app(url)
        data = await inlet.doctor()
    finally:
        await other.stop()
    assert data["ok"] is False
    [check] = [c for c in data["checks"] if c["id"] == "app.signing_key"]
    assert check["verdict"] == "fail" and check["subject"] == url
    assert check["detail"].startswith(f"the app shop ({url}) rejected a probe signed with")


async def test_a_stored_bad_expression_and_a_schema_behind_fail(
    inlet: Inlet, cloud_app: CloudApp
) -> None:
    await inlet.add_app(cloud_app.url, cancel=[{"event": "shop/cancel", "if": "event.data.id =="}])
    with sqlite3.connect(inlet.path) as db:
        db.execute(
            "DELETE FROM schema_version WHERE version = (SELECT max(version) FROM schema_version)"
        )
    data = await inlet.doctor()
    assert data["ok"] is False
    by_id = {c["id"]: c for c in data["checks"]}
    assert by_id["expressions"]["verdict"] == "fail"
    assert by_id["expressions"]["subject"] == "shop-charge"
    assert "cancel[0].if" in by_id["expressions"]["detail"]
    assert by_id["database"]["verdict"] == "fail"
    assert "has schema version" in by_id["database"]["detail"]


async def test_on_postgresql_a_schema_behind_fails_with_the_migrate_command(pg_url: str) -> None:
    db = DatabaseURL.parse(pg_url)
    _, latest = migrate(pg_url)
    assert database_check(await database_status(db)).verdict == "pass"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DELETE FROM schema_version WHERE version = %s", (latest,))
    check = database_check(await database_status(db))
    assert check.verdict == "fail"
    assert check.detail == f"{db.safe} has schema version {latest - 1}; this inlet needs {latest}"
    assert check.fix == f"run `inlet migrate --database-url {db.safe}`, then restart inlet"


async def test_an_unreachable_postgresql_fails_naming_the_database_without_its_password() -> None:
    db = DatabaseURL.parse("postgresql://inlet:s3cret@127.0.0.1:9/inlet")
    check = database_check(await database_status(db))
    assert check.verdict == "fail"
    assert check.detail.startswith(
        "the server cannot read postgresql://inlet:***@127.0.0.1:9/inlet"
    )
    assert "s3cret" not in check.detail
