"""inlet dev takes POST /fn/register from this machine only, unless told otherwise: no
web page a developer opens can register a function that points at an internal URL."""

from __future__ import annotations

import httpx
import pytest

from inlet.clock import FakeClock
from inlet.config import Settings
from inlet.server import create_app
from inlet.store.memory import MemoryStore

BODY = {
    "url": "http://127.0.0.1:9/api/inngest",
    "appName": "app",
    "functions": [
        {
            "id": "app-fn",
            "name": "fn",
            "triggers": [{"event": "app/x"}],
            "steps": {"step": {"runtime": {"url": "http://10.0.0.9/api/inngest?fnId=app-fn"}}},
        }
    ],
}


async def register_from(address: str, settings: Settings) -> httpx.Response:
    app = create_app(settings, store=MemoryStore(), clock=FakeClock())
    transport = httpx.ASGITransport(app=app, client=(address, 51000))
    async with httpx.AsyncClient(transport=transport, base_url="http://inlet.test") as client:
        return await client.post("/fn/register", json=BODY)


@pytest.mark.parametrize("address", ["127.0.0.1", "::1"])
async def test_dev_takes_a_registration_from_this_machine(address: str) -> None:
    reply = await register_from(address, Settings(database_url="memory://"))
    assert reply.status_code == 200, reply.text


async def test_dev_refuses_a_registration_from_another_machine_naming_the_flag() -> None:
    reply = await register_from("192.0.2.7", Settings(database_url="memory://"))
    assert reply.status_code == 403
    message = reply.json()["error"]
    assert "192.0.2.7" in message and "--allow-remote-register" in message


async def test_allow_remote_register_takes_it_from_anywhere() -> None:
    settings = Settings(database_url="memory://", allow_remote_register=True)
    assert (await register_from("192.0.2.7", settings)).status_code == 200
