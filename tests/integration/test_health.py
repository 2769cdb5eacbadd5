"""``GET /health/ready``: 200 while the store answers, its schema is current, the loops run
and the queue moves; 503 naming the failed check otherwise, and never a path or a key."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.routing import Route

from inlet.api.health import STALLED_AFTER, HealthAPI, Loops
from inlet.clock import FakeClock
from inlet.config import Settings
from inlet.model import Event, NewRun
from inlet.server import create_app
from inlet.store.memory import MemoryStore
from inlet.store.sqlite import SQLiteStore
from inlet.testing import FakeSDK, InletTest

T0 = 1_800_000_000.0


async def ready(inlet: InletTest) -> tuple[int, dict[str, Any]]:
    reply = await inlet.http.get("/health/ready")
    body: dict[str, Any] = reply.json()
    return reply.status_code, body


async def test_a_running_server_is_ready_with_every_check_ok() -> None:
    async with InletTest(FakeSDK("h")) as inlet:
        status, body = await ready(inlet)
    assert status == 200, body
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"store", "schema", "loops", "queue"}
    assert all(check["ok"] for check in body["checks"].values())


async def test_on_sqlite_the_schema_check_gives_the_version(tmp_path: Path) -> None:
    async with InletTest(FakeSDK("h"), store=SQLiteStore(str(tmp_path / "i.db"))) as inlet:
        status, body = await ready(inlet)
    assert status == 200, body
    assert body["checks"]["schema"]["version"] > 0


async def test_a_closed_store_makes_the_server_unavailable_without_naming_the_database(
    tmp_path: Path,
) -> None:
    path = tmp_path / "secret-name.db"
    store = SQLiteStore(str(path))
    async with InletTest(FakeSDK("h"), store=store) as inlet:
        await inlet.app.state.server.executor.stop()  # type: ignore[union-attr]
        await store.close()
        reply = await inlet.http.get("/health/ready")
        body = reply.json()
    assert reply.status_code == 503, body
    assert body["status"] == "unavailable"
    assert body["checks"]["store"]["ok"] is False
    assert "StoreError" in body["checks"]["store"]["reason"]
    assert "secret-name" not in reply.text


async def test_a_schema_behind_the_code_makes_the_server_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "i.db"
    async with InletTest(FakeSDK("h"), store=SQLiteStore(str(path))) as inlet:
        db = sqlite3.connect(path)
        with db:
            latest = "SELECT max(version) FROM schema_version"
            db.execute(f"DELETE FROM schema_version WHERE version = ({latest})")
        db.close()
        status, body = await ready(inlet)
    assert status == 503, body
    schema = body["checks"]["schema"]
    assert schema["ok"] is False and "inlet migrate" in schema["reason"]
    assert body["checks"]["store"]["ok"] is True


async def test_a_stopped_loop_is_named() -> None:
    async with InletTest(FakeSDK("h")) as inlet:
        await inlet.app.state.server.scheduler.stop()  # type: ignore[union-attr]
        status, body = await ready(inlet)
    assert status == 503, body
    assert body["checks"]["loops"] == {"ok": False, "reason": "not running: scheduler"}


async def health_of(store: MemoryStore, clock: FakeClock, idle: bool) -> httpx.Response:
    def alive() -> bool:
        return True

    api = HealthAPI(store, clock, Loops(alive, alive, alive, alive, lambda: idle))
    app = Starlette(routes=[Route("/health/ready", api.ready)])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://inlet") as client:
        return await client.get("/health/ready")


async def test_an_item_due_for_minutes_while_the_worker_idles_is_a_stalled_queue() -> None:
    store, clock = MemoryStore(), FakeClock(T0)
    event = Event("01EVENT0000000000000000001", "h/x", {}, "e1", int(T0 * 1000), received_at=T0)
    run = NewRun("01RUN000000000000000000001", "h-fn", (event.internal_id,), "k", T0)
    await store.ingest([event], [run], T0, 60)

    clock.set(T0 + STALLED_AFTER - 1)
    assert (await health_of(store, clock, idle=True)).status_code == 200
    clock.set(T0 + STALLED_AFTER + 1)
    # A busy worker is a backlog, not a stall.
    assert (await health_of(store, clock, idle=False)).status_code == 200
    stalled = await health_of(store, clock, idle=True)
    assert stalled.status_code == 503
    assert stalled.json()["checks"]["queue"]["ok"] is False


async def test_readiness_needs_no_token_in_inlet_start() -> None:
    settings = Settings(
        profile="start", signing_key="signkey-prod-0123456789abcdef", event_keys=("key",)
    )
    app = create_app(settings, store=MemoryStore(), clock=FakeClock(T0))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://inlet") as client:
        reply = await client.get("/health/ready")
    # Not started (no lifespan here): the loops are down, and it says so without a token.
    assert reply.status_code == 503
    assert reply.json()["checks"]["loops"]["reason"].startswith("not running: worker")
