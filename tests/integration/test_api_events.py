"""``/v1/events``, in process: sending under the API token as ``POST /e/{key}`` does,
listing newest first by name and time received in keyset pages, and one event with the
runs it started and why it started no run of the others."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from inlet.clock import FakeClock
from inlet.config import Settings
from inlet.model import App, Function, Trigger
from inlet.server import Server, create_app
from inlet.store.memory import MemoryStore

NOW = 1_800_000_000.0
"""2027-01-15T08:00:00Z."""
APP = "http://app.test/api/inngest"


def function(slug: str, event: str, **config: Any) -> Function:
    return Function(
        slug,
        APP,
        slug,
        f"{APP}?fnId={slug}",
        (Trigger(event=event),),
        config={"id": slug, **config},
    )


class Harness:
    def __init__(self, client: httpx.AsyncClient, clock: FakeClock) -> None:
        self.client = client
        self.clock = clock

    async def send(self, *events: dict[str, Any]) -> list[str]:
        """Send events a second after the last, through /v1/events; their ids."""
        self.clock.advance(1)
        body: Any = events[0] if len(events) == 1 else list(events)
        reply = await self.client.post("/v1/events", json=body)
        assert reply.status_code == 200, reply.text
        ids: list[str] = reply.json()["data"]["ids"]
        return ids

    async def listed(self, **params: Any) -> tuple[list[str], str | None]:
        reply = await self.client.get("/v1/events", params=params)
        assert reply.status_code == 200, reply.text
        body = reply.json()
        return [e["internal_id"] for e in body["data"]], body["metadata"]["next_cursor"]


@pytest.fixture
async def api() -> AsyncIterator[Harness]:
    store = MemoryStore()
    clock = FakeClock(NOW)
    app = create_app(Settings(), store=store, clock=clock)
    await store.open()
    await store.save_app(
        App(APP, "app"),
        [
            function("app-a", "app/x"),
            function("app-b", "app/x", rateLimit={"limit": 1, "period": "1h"}),
        ],
    )
    server: Server = app.state.server
    await server.reload_functions()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://inlet") as client:
        yield Harness(client, clock)
    await store.close()


async def test_events_sent_under_v1_are_stored_and_start_runs_like_those_sent_to_e(
    api: Harness,
) -> None:
    reply = await api.client.post(
        "/v1/events", json=[{"name": "app/x", "data": {"n": 1}}, {"name": "app/other"}]
    )
    assert reply.status_code == 200, reply.text
    sent = reply.json()
    assert sent["data"]["runs"] == 2 and "fetched_at" in sent["metadata"]
    first, second = sent["data"]["ids"]
    event = (await api.client.get(f"/v1/events/{first}")).json()["data"]
    assert (event["name"], event["data"]) == ("app/x", {"n": 1})
    assert sorted(r["function_id"] for r in event["inlet"]["runs"]) == ["app-a", "app-b"]
    other = (await api.client.get(f"/v1/events/{second}")).json()["data"]
    assert other["inlet"] == {
        "runs": [],
        "skipped": [],
        "functions": [],
        "note": "no function listens to 'app/other'",
    }


async def test_a_retried_send_with_the_same_seed_stores_nothing_twice(api: Harness) -> None:
    headers = {"x-inngest-event-id-seed": "1800000000000,AAAAAAAAAAAAAA=="}
    body = {"name": "app/x", "data": {}}
    replies = [await api.client.post("/v1/events", json=body, headers=headers) for _ in "ab"]
    assert replies[0].json()["data"]["ids"] == replies[1].json()["data"]["ids"]
    assert [r.json()["data"]["runs"] for r in replies] == [2, 0]


async def test_a_bad_event_is_a_400_naming_it_with_the_ids_accepted_before_it(
    api: Harness,
) -> None:
    reply = await api.client.post(
        "/v1/events", json=[{"name": "app/x"}, {"name": "app/x", "data": [1]}]
    )
    assert reply.status_code == 400
    body = reply.json()
    assert body["status"] == 400 and "event[1].data" in body["error"]
    [accepted] = body["ids"]
    assert (await api.client.get(f"/v1/events/{accepted}")).status_code == 200
    for raw, named in ((b"{oops", "not valid JSON"), (b"42", "event object")):
        reply = await api.client.post("/v1/events", content=raw)
        assert reply.status_code == 400 and named in reply.json()["error"]
        assert reply.json()["ids"] == []
    bad_seed = await api.client.post(
        "/v1/events", json={"name": "app/x"}, headers={"x-inngest-event-id-seed": "x"}
    )
    assert bad_seed.status_code == 400 and bad_seed.json()["status"] == 400


async def test_events_are_listed_newest_first_by_name_and_time_received(api: Harness) -> None:
    x1 = await api.send({"name": "app/x"})  # received at NOW + 1
    other = await api.send({"name": "app/other"})  # NOW + 2
    x3 = await api.send({"name": "app/x"})  # NOW + 3
    assert (await api.listed())[0] == [*x3, *other, *x1]
    assert await api.listed(name="app/x") == ([*x3, *x1], None)
    assert (await api.listed(since=NOW + 2))[0] == [*x3, *other]
    assert (await api.listed(until="2027-01-15T08:00:03Z"))[0] == [*other, *x1]
    assert (await api.listed(received_after=NOW + 2, received_before=NOW + 3))[0] == other
    assert (await api.listed(name="app/x", since=NOW + 2, until=NOW + 3))[0] == []
    assert (await api.listed(name="app/none"))[0] == []


async def test_paging_lists_every_event_once_and_newer_events_do_not_shift_the_pages(
    api: Harness,
) -> None:
    for n in range(7):
        await api.send({"name": "app/x" if n % 2 else "app/other", "data": {"n": n}})
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 2, "name": "app/other", "since": NOW + 2}
        ids, cursor = await api.listed(**params, **({"cursor": cursor} if cursor else {}))
        seen.extend(ids)
        pages += 1
        if cursor is None:
            break
        await api.send({"name": "app/other"})
    # app/other at NOW + 1, 3, 5 and 7; since NOW + 2 leaves three of them.
    assert (pages, len(seen)) == (2, 3)
    assert seen == sorted(seen, reverse=True)
    everything: list[str] = []
    cursor = None
    while True:
        ids, cursor = await api.listed(limit=3, **({"cursor": cursor} if cursor else {}))
        everything.extend(ids)
        if cursor is None:
            break
    assert len(everything) == len(set(everything)) == 8


async def test_a_thousand_events_fit_one_page_as_the_testing_client_asks(api: Harness) -> None:
    ids = await api.send(*({"name": "app/bulk"} for _ in range(1000)))
    listed, cursor = await api.listed(name="app/bulk", limit=1000)
    assert sorted(listed) == sorted(ids) and cursor is None


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("limit=0", "limit='0'"),
        ("limit=1001", "limit='1001'"),
        ("limit=all", "limit='all'"),
        ("cursor=next", "cursor='next'"),
        ("since=yesterday", "since='yesterday'"),
        ("until=2027-01-15T08:00:00", "until='2027-01-15T08:00:00' has no UTC offset"),
        ("received_before=99999999999999", "received_before='99999999999999'"),
        ("since=20&received_after=10", "since='20' and received_after='10'"),
        ("received_after=20&until=10", "received_after='20' is not before until='10'"),
    ],
)
async def test_a_bad_list_parameter_is_a_400_naming_it_its_value_and_what_is_expected(
    api: Harness, query: str, named: str
) -> None:
    reply = await api.client.get(f"/v1/events?{query}")
    assert reply.status_code == 400, reply.text
    body = reply.json()
    assert named in body["error"] and "expected" in body["error"] and body["status"] == 400


async def test_one_event_shows_its_runs_and_why_it_started_none_of_another_function(
    api: Harness,
) -> None:
    await api.send({"name": "app/x"})
    [second] = await api.send({"name": "app/x", "data": {"n": 2}})
    detail = (await api.client.get(f"/v1/events/{second}")).json()["data"]
    assert [r["function_id"] for r in detail["inlet"]["runs"]] == ["app-a"]
    [skip] = detail["inlet"]["skipped"]
    assert skip["function_id"] == "app-b" and skip["reason"]
    missing = await api.client.get("/v1/events/01J0000000000000000000000Z")
    assert missing.status_code == 404 and "01J0000000000000000000000Z" in missing.json()["error"]
