"""The durable-endpoint routes as inngest@4 calls them (``inlet.api.endpoints``): the
request's first report creates the run with its function, later reports record steps and
end it or make its call due, ``/v1/http/runs/{id}/output`` answers the endpoint's
response to the holder of the run's token, and ``/v1/realtime/*`` relays the stream of an
endpoint that went async. In ``inlet start`` the SDK's routes take the signing key."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from inlet.clock import FakeClock
from inlet.config import Settings
from inlet.model import RunStatus
from inlet.protocol.signing import hashed_key
from inlet.server import create_app
from inlet.store.memory import MemoryStore

NOW = 1_800_000_000.0
SIGNING_KEY = "signkey-prod-0123456789abcdef"
RUN = "01KENDPOINTRUN0000000000001"


def event(path: str = "/api/hello", query: str = "") -> dict[str, Any]:
    return {
        "name": "http/run.started",
        "data": {
            "domain": "http://127.0.0.1:3000",
            "method": "GET",
            "path": path,
            "query_params": query,
            "content_type": "",
            "ip": "",
            "body": "",
            "fn": "",
        },
    }


def step_run(name: str, data: Any) -> dict[str, Any]:
    return {"id": f"{name:0>40}", "op": "StepRun", "name": name, "displayName": name, "data": data}


def complete(body: str, status: int = 200) -> dict[str, Any]:
    response = {"status": status, "headers": {"content-type": "application/json"}, "body": body}
    return {"id": "complete", "op": "RunComplete", "data": response}


class Api:
    def __init__(self, client: httpx.AsyncClient, store: MemoryStore) -> None:
        self.client = client
        self.store = store

    async def new_run(self, *steps: dict[str, Any], run_id: str = RUN) -> httpx.Response:
        body = {"run_id": run_id, "event": event(query="who=ada"), "steps": list(steps)}
        return await self.client.post("/v1/checkpoint", json={**body, "retries": 2})


async def api(settings: Settings) -> AsyncIterator[Api]:
    store = MemoryStore()
    app = create_app(settings, store=store, clock=FakeClock(NOW))
    await store.open()
    headers = {}
    if settings.signing_key:
        headers["Authorization"] = f"Bearer {hashed_key(settings.signing_key)}"
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://inlet", headers=headers
    ) as client:
        yield Api(client, store)
    await store.close()


@pytest.fixture
async def dev() -> AsyncIterator[Api]:
    async for value in api(Settings(database_url="memory://", discovery=False)):
        yield value


async def test_a_report_that_completes_creates_the_run_and_ends_it_with_the_response(
    dev: Api,
) -> None:
    resp = await dev.new_run(step_run("a", 1), complete('"done"', 202))
    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    assert data["run_id"] == RUN
    assert data["fn_id"] == "GET http://127.0.0.1:3000/api/hello"
    assert data["token"] and data["realtime_token"]
    run = await dev.store.get_run(RUN)
    assert run is not None and run.status is RunStatus.COMPLETED, run
    state = await dev.store.run_state(RUN)
    assert state is not None and [m.step_id for m in state.memos] == [f"{'a':0>40}"]
    (function,) = [f for f in await dev.store.list_functions() if f.slug == data["fn_id"]]
    assert function.name == "GET /api/hello" and function.retries == 2

    output = await dev.client.get(f"/v1/http/runs/{RUN}/output", params={"token": data["token"]})
    assert output.status_code == 202 and output.json() == "done", output.text


async def test_a_sleep_makes_the_call_due_and_later_steps_are_recorded_once(dev: Api) -> None:
    resp = await dev.new_run(step_run("a", 1))
    assert resp.status_code == 200, resp.text
    # The call that would carry the run on waits while the request runs it.
    assert (await dev.store.next_due() or 0) > NOW + 60
    report = {"run_id": RUN, "steps": [step_run("b", 2), {"id": "s", "op": "Sleep", "name": "1s"}]}
    for _ in range(2):  # a report sent again records nothing twice
        resp = await dev.client.post(f"/v1/checkpoint/{RUN}/steps", json=report)
        assert resp.status_code == 200, resp.text
    state = await dev.store.run_state(RUN)
    assert state is not None and state.run.step_count == 2, state
    assert await dev.store.next_due() == NOW


async def test_the_output_needs_the_runs_own_token(dev: Api) -> None:
    first = (await dev.new_run(complete('"a"'))).json()["data"]
    other = "01KENDPOINTRUN0000000000002"
    await dev.new_run(complete('"b"'), run_id=other)
    resp = await dev.client.get(f"/v1/http/runs/{other}/output", params={"token": first["token"]})
    assert resp.status_code == 401, resp.text
    assert "token" in resp.json()["error"]


async def test_a_second_report_creating_the_same_run_gets_409(dev: Api) -> None:
    assert (await dev.new_run(step_run("a", 1))).status_code == 200
    resp = await dev.new_run(step_run("a", 1))
    assert resp.status_code == 409, resp.text
    assert RUN in resp.json()["error"]


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"event": event()}, "run_id"),
        ({"run_id": RUN, "event": {"name": "x"}}, "event"),
        ({"run_id": RUN, "event": {**event(), "data": {"domain": "ftp://x"}}}, "domain"),
        ({"run_id": RUN, "event": event(), "steps": "nope"}, "steps"),
    ],
)
async def test_a_body_that_is_not_a_new_run_gets_400_naming_the_field(
    dev: Api, body: dict[str, Any], named: str
) -> None:
    resp = await dev.client.post("/v1/checkpoint", json=body)
    assert resp.status_code == 400, resp.text
    assert named in resp.json()["error"]


async def test_steps_of_an_unknown_run_get_404(dev: Api) -> None:
    resp = await dev.client.post("/v1/checkpoint/01NOSUCHRUN/steps", json={"steps": []})
    assert resp.status_code == 404, resp.text


async def test_the_stream_takes_posts_with_the_key_and_readers_with_the_runs_token(
    dev: Api,
) -> None:
    token = (await dev.new_run(step_run("a", 1))).json()["data"]["realtime_token"]
    chunk = b'event: inngest.stream\ndata: {"data":"hi"}\n\n'
    resp = await dev.client.post("/v1/realtime/publish/tee", params={"channel": RUN}, content=chunk)
    assert resp.status_code == 200, resp.text
    nameless = await dev.client.post("/v1/realtime/publish/tee", content=chunk)
    assert nameless.status_code == 400 and "channel" in nameless.json()["error"], nameless.text
    denied = await dev.client.get("/v1/realtime/sse", params={"token": token + "x"})
    assert denied.status_code == 401, denied.text


async def test_inlet_start_takes_the_signing_key_for_the_sdk_routes_only() -> None:
    settings = Settings(
        database_url="memory://",
        discovery=False,
        profile="start",
        signing_key=SIGNING_KEY,
        event_keys=("key",),
    )
    async for signed in api(settings):
        created = await signed.new_run(complete('"x"'))
        assert created.status_code == 200, created.text
        token = created.json()["data"]["token"]
        bare = httpx.AsyncClient(transport=signed.client._transport, base_url="http://inlet")
        async with bare:
            unsigned = await bare.post("/v1/checkpoint", json={"run_id": "x"})
            assert unsigned.status_code == 401, unsigned.text
            # The output needs no API token or key: the run's token is the credential.
            output = await bare.get(f"/v1/http/runs/{RUN}/output", params={"token": token})
            assert output.status_code == 200 and output.json() == "x", output.text
