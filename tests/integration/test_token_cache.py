"""The API's middleware keeps the tokens it found for ``TOKEN_TTL``: a client's requests
cost no store read each, and a revoked token stops working within that time."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from inlet.api.auth import hash_token, new_token
from inlet.clock import FakeClock
from inlet.config import Settings
from inlet.server import create_app
from inlet.store.memory import MemoryStore
from inlet.store.tokens import TOKEN_TTL, ApiToken, TokenCache

NOW = 1_800_000_000.0
START = Settings(profile="start", signing_key="signkey-prod-0123456789abcdef", event_keys=("k",))


class CountingStore(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.lookups = 0

    async def token_by_hash(self, token_hash: str) -> ApiToken | None:
        self.lookups += 1
        return await super().token_by_hash(token_hash)


@pytest.fixture
async def served() -> AsyncIterator[tuple[httpx.AsyncClient, CountingStore, FakeClock, str]]:
    store, clock = CountingStore(), FakeClock(NOW)
    app = create_app(START, store=store, clock=clock)
    await store.open()
    secret = new_token()
    await store.create_token(ApiToken("tok-1", "ops", "admin", hash_token(secret), NOW))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://inlet") as client:
        client.headers["Authorization"] = f"Bearer {secret}"
        yield client, store, clock, secret
    await store.close()


async def test_requests_within_the_ttl_read_the_token_once(
    served: tuple[httpx.AsyncClient, CountingStore, FakeClock, str],
) -> None:
    client, store, clock, _ = served
    for _ in range(5):
        assert (await client.get("/v1/events")).status_code == 200
        clock.advance(TOKEN_TTL / 10)
    assert store.lookups == 1
    clock.advance(TOKEN_TTL)
    assert (await client.get("/v1/events")).status_code == 200
    assert store.lookups == 2


async def test_a_revoked_token_stops_working_within_the_ttl(
    served: tuple[httpx.AsyncClient, CountingStore, FakeClock, str],
) -> None:
    client, store, clock, _ = served
    assert (await client.get("/v1/events")).status_code == 200
    assert await store.revoke_token("tok-1", clock.now())
    clock.advance(TOKEN_TTL / 2)  # still trusted from the read before the revocation
    assert (await client.get("/v1/events")).status_code == 200
    clock.advance(TOKEN_TTL / 2)
    reply = await client.get("/v1/events")
    assert reply.status_code == 401
    assert "revoked" in reply.json()["error"]


async def test_an_unknown_token_is_read_every_time_so_a_new_one_works_at_once(
    served: tuple[httpx.AsyncClient, CountingStore, FakeClock, str],
) -> None:
    client, store, clock, _ = served
    later = new_token()
    headers = {"Authorization": f"Bearer {later}"}
    assert (await client.get("/v1/events", headers=headers)).status_code == 401
    await store.create_token(ApiToken("tok-2", "new", "viewer", hash_token(later), clock.now()))
    assert (await client.get("/v1/events", headers=headers)).status_code == 200


def test_the_cache_forgets_its_oldest_token_when_full_and_a_time_going_back() -> None:
    cache = TokenCache(ttl=5.0, size=2)
    tokens = [ApiToken(f"t{n}", "", "viewer", f"h{n}", NOW) for n in range(3)]
    for token in tokens:
        cache.put(token, NOW)
    assert cache.get("h0", NOW) is None
    assert cache.get("h2", NOW) == tokens[2]
    assert cache.get("h2", NOW - 1) is None  # a clock set back: read again
