"""``POST /e/{key}`` answers in the shape the SDKs' ``send`` parses, failures included."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette
from starlette.routing import Route

from inlet.api.events import EventsAPI
from inlet.clock import FakeClock
from inlet.config import Settings
from inlet.events.ingest import Ingestor
from inlet.ids import SEED_HEADER, ulid_from_seed
from inlet.runs.apply import Applier
from inlet.runs.registry import Registry
from inlet.runs.router import Router
from inlet.store.memory import MemoryStore

SEED = "1743130137367,eii2YKXRVTJPuA=="


def client() -> httpx.AsyncClient:
    settings, clock, store = Settings(), FakeClock(), MemoryStore()
    registry = Registry(())
    applier = Applier(store, Router(store, lambda: registry), 60, lambda: None)
    api = EventsAPI(settings, store, clock, Ingestor(settings, clock, applier), lambda: registry)
    app = Starlette(routes=[Route("/e/{key}", api.send, methods=["POST"])])
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://inlet")


async def test_a_malformed_id_seed_is_answered_400_in_the_send_shape_naming_the_header() -> None:
    async with client() as http:
        response = await http.post(
            "/e/key", json={"name": "app/a", "data": {}}, headers={SEED_HEADER: "not-a-seed"}
        )
    assert response.status_code == 400
    body = response.json()
    assert body["ids"] == []
    assert body["status"] == 400
    assert SEED_HEADER in body["error"]


async def test_a_well_formed_id_seed_gives_the_deterministic_ids() -> None:
    async with client() as http:
        response = await http.post(
            "/e/key", json=[{"name": "app/a"}, {"name": "app/b"}], headers={SEED_HEADER: SEED}
        )
    assert response.status_code == 200
    assert response.json()["ids"] == [ulid_from_seed(SEED, 1), ulid_from_seed(SEED, 2)]
