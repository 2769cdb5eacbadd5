"""``/v1/functions``, in process: the registered functions with their triggers, next cron
fires and parsed flow control; one function with its active runs; invoking one, which
starts a run of that function alone, cron-only ones included, under its flow control."""

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
"""2027-01-15T08:00:00Z, a Friday."""
APP = "http://app.test/api/inngest"


def function(slug: str, *triggers: Trigger, **config: Any) -> Function:
    return Function(
        slug, APP, f"{slug} name", f"{APP}?fnId={slug}", triggers, config={"id": slug, **config}
    )


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    store = MemoryStore()
    app = create_app(Settings(max_event_bytes=1024), store=store, clock=FakeClock(NOW))
    await store.open()
    await store.save_app(
        App(APP, "app"),
        [
            function("app-a", Trigger(event="app/x")),
            function("app-b", Trigger(event="app/x")),
            function("app-nightly", Trigger(cron="TZ=Europe/Paris 0 12 * * 1-5", jitter="30s")),
            function(
                "app-limited",
                Trigger(event="app/limited", expression="event.data.ok == true"),
                rateLimit={"limit": 1, "period": "1m", "key": "event.data.user"},
                concurrency=[{"limit": 2}],
                cancel=[{"event": "app/stop", "if": "async.data.id == event.data.id"}],
                timeouts={"finish": "1h"},
            ),
            function("app-broken", Trigger(event="app/y"), throttle={"limit": "lots"}),
        ],
    )
    server: Server = app.state.server
    await server.reload_functions()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://inlet") as client:
        yield client
    await store.close()


async def data(client: httpx.AsyncClient, path: str) -> Any:
    reply = await client.get(path)
    assert reply.status_code == 200, reply.text
    return reply.json()["data"]


async def test_the_list_shows_every_function_with_triggers_retries_and_flow_control(
    client: httpx.AsyncClient,
) -> None:
    listed = await data(client, "/v1/functions")
    assert [f["function_id"] for f in listed] == [
        "app-a",
        "app-b",
        "app-broken",
        "app-limited",
        "app-nightly",
    ]
    by_slug = {f["function_id"]: f for f in listed}
    a = by_slug["app-a"]
    assert (a["name"], a["app_url"], a["url"]) == ("app-a name", APP, f"{APP}?fnId=app-a")
    assert a["triggers"] == [{"event": "app/x", "expression": None, "cron": None, "jitter": None}]
    assert (a["retries"], a["is_cron"], a["crons"], a["error"]) == (4, False, [], None)
    limited = by_slug["app-limited"]
    flow = limited["flow"]
    assert flow["rate_limit"] == {"limit": 1, "period": 60.0, "key": "event.data.user"}
    assert flow["concurrency"] == [{"limit": 2, "key": None, "scope": "fn"}]
    assert flow["throttle"] is None and flow["debounce"] is None
    assert limited["cancel_on"] == [
        {"event": "app/stop", "if": "async.data.id == event.data.id", "timeout_seconds": 31536000.0}
    ]
    assert limited["timeouts"] == {"start_seconds": None, "finish_seconds": 3600.0}


async def test_a_cron_function_lists_its_next_fires_in_its_zone_from_now(
    client: httpx.AsyncClient,
) -> None:
    nightly = await data(client, "/v1/functions/app-nightly")
    assert nightly["is_cron"] is True
    [cron] = nightly["crons"]
    assert (cron["expression"], cron["jitter"], cron["error"]) == (
        "TZ=Europe/Paris 0 12 * * 1-5",
        "30s",
        None,
    )
    # Noon in Paris (UTC+1 in January) on weekdays: Friday, then Monday to Thursday.
    assert cron["next_fires"] == [
        "2027-01-15T11:00:00.000Z",
        "2027-01-18T11:00:00.000Z",
        "2027-01-19T11:00:00.000Z",
        "2027-01-20T11:00:00.000Z",
        "2027-01-21T11:00:00.000Z",
    ]


async def test_a_stored_config_that_no_longer_parses_is_shown_with_the_reason(
    client: httpx.AsyncClient,
) -> None:
    broken = await data(client, "/v1/functions/app-broken")
    assert broken["flow"] is None and "throttle" in broken["error"]


async def test_one_function_shows_how_many_of_its_runs_are_queued_and_running(
    client: httpx.AsyncClient,
) -> None:
    for _ in range(2):
        await client.post("/e/key", json={"name": "app/x", "data": {}})
    a = await data(client, "/v1/functions/app-a")
    # No worker claims here: both runs wait, none holds a slot or is held back.
    assert a["state"] == {
        "runs": {"QUEUED": 2, "RUNNING": 0},
        "concurrency": {},
        "delayed_runs": 0,
        "gates": [],
    }
    assert a["function_id"] == "app-a" and a["triggers"][0]["event"] == "app/x"


async def test_an_unknown_function_is_a_404_naming_it_and_the_known_ones(
    client: httpx.AsyncClient,
) -> None:
    for reply in (
        await client.get("/v1/functions/app-zzz"),
        await client.post("/v1/functions/app-zzz/invoke", json={"data": {}}),
    ):
        assert reply.status_code == 404
        body = reply.json()
        assert body["status"] == 404 and "'app-zzz' is not registered" in body["error"]
        assert "app-nightly" in body["error"]


async def test_invoking_starts_a_run_of_that_function_alone_with_the_data_given(
    client: httpx.AsyncClient,
) -> None:
    reply = await client.post(
        "/v1/functions/app-a/invoke", json={"data": {"n": 1, "_inngest": "x"}, "user": {"u": 2}}
    )
    assert reply.status_code == 200, reply.text
    invoked = reply.json()["data"]
    assert invoked["function_id"] == "app-a" and invoked["skipped"] == []
    [event_id], [run_id] = invoked["event_ids"], invoked["run_ids"]
    run = await data(client, f"/v1/runs/{run_id}")
    assert run["function_id"] == "app-a" and run["event_id"] == event_id
    event = await data(client, f"/v1/events/{event_id}")
    assert event["name"] == "inngest/function.invoked"
    assert event["data"] == {"n": 1, "_inngest": {"fn_id": "app-a", "source": "api"}}
    assert event["user"] == {"u": 2}
    # app-b has the same trigger, but an invoke names its function.
    assert [r["function_id"] for r in event["inlet"]["runs"]] == ["app-a"]


async def test_invoking_a_cron_function_runs_it_now(client: httpx.AsyncClient) -> None:
    reply = await client.post("/v1/functions/app-nightly/invoke")
    assert reply.status_code == 200, reply.text
    [run_id] = reply.json()["data"]["run_ids"]
    run = await data(client, f"/v1/runs/{run_id}")
    assert run["function_id"] == "app-nightly"
    assert run["inlet"]["created_at"] == "2027-01-15T08:00:00.000Z"


async def test_an_invoke_meets_the_functions_flow_control_and_says_why_it_was_skipped(
    client: httpx.AsyncClient,
) -> None:
    body = {"data": {"user": "ann", "ok": True}}
    first = (await client.post("/v1/functions/app-limited/invoke", json=body)).json()["data"]
    assert len(first["run_ids"]) == 1
    second = (await client.post("/v1/functions/app-limited/invoke", json=body)).json()["data"]
    assert second["run_ids"] == []
    [skip] = second["skipped"]
    assert skip["function_id"] == "app-limited" and "rate" in skip["reason"].lower()


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "the body is [1,2], not a JSON object"),
        (b'{"data": [1]}', "data=[1] is not a JSON object"),
        (b'{"data": {}, "user": "ann"}', 'user="ann" is not a JSON object'),
    ],
)
async def test_a_bad_invoke_body_is_a_400_naming_the_field(
    client: httpx.AsyncClient, body: bytes, named: str
) -> None:
    reply = await client.post("/v1/functions/app-a/invoke", content=body)
    assert reply.status_code == 400
    error = reply.json()
    assert named in error["error"] and "expected" in error["error"] and error["status"] == 400


async def test_an_invoke_payload_over_the_event_size_limit_is_a_413(
    client: httpx.AsyncClient,
) -> None:
    reply = await client.post("/v1/functions/app-a/invoke", json={"data": {"blob": "x" * 2000}})
    assert reply.status_code == 413
    assert "at most 1024" in reply.json()["error"]
    assert (await data(client, "/v1/functions/app-a"))["state"]["runs"]["QUEUED"] == 0


async def test_invoking_a_paused_function_starts_no_run_and_says_it_is_paused(
    client: httpx.AsyncClient,
) -> None:
    assert (await client.post("/v1/functions/app-a/pause")).status_code == 200
    listed = {f["function_id"]: f for f in await data(client, "/v1/functions")}
    assert listed["app-a"]["paused"] is True
    assert listed["app-a"]["paused_at"] == "2027-01-15T08:00:00.000Z"
    assert listed["app-b"]["paused"] is False and listed["app-b"]["paused_at"] is None
    skipped = (await client.post("/v1/functions/app-a/invoke")).json()["data"]
    assert skipped["run_ids"] == []
    [skip] = skipped["skipped"]
    assert skip["function_id"] == "app-a" and "paused" in skip["reason"]
    assert (await client.post("/v1/functions/app-a/resume")).status_code == 200
    resumed = (await client.post("/v1/functions/app-a/invoke")).json()["data"]
    assert len(resumed["run_ids"]) == 1
    assert (await data(client, "/v1/functions/app-a"))["paused"] is False
