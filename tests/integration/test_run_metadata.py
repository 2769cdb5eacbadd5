"""``POST /v1/runs/{id}/metadata`` as the SDKs call it: stored per step and kind, shown by
``GET /v1/runs/{id}``; a bad body gets a 400 naming the field, an unknown run a 404 (the
Python SDK ignores error statuses, so a silent 200 would lose the data unseen); in
``inlet start`` it takes the signing key as a bearer, as the other SDK routes do."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from inlet.clock import FakeClock
from inlet.config import Settings
from inlet.model import App, Function, Trigger
from inlet.protocol.signing import hashed_key
from inlet.server import Server, create_app
from inlet.steps.checkpoint import dispatch_id
from inlet.store.memory import MemoryStore

NOW = 1_800_000_000.0
APP = "http://app.test/api/inngest"
SIGNING_KEY = "signkey-prod-0123456789abcdef"


async def client_for(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    store = MemoryStore()
    app = create_app(settings, store=store, clock=FakeClock(NOW))
    await store.open()
    fn = Function("app-a", APP, "a", f"{APP}?fnId=app-a", (Trigger(event="app/x"),))
    await store.save_app(App(APP, "app"), [fn])
    server: Server = app.state.server
    await server.reload_functions()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://inlet") as client:
        key = settings.event_keys[0] if settings.event_keys else "any"
        sent = await client.post(f"/e/{key}", json={"name": "app/x", "data": {}})
        [event_id] = sent.json()["ids"]
        [run] = await store.runs_for_event(event_id)
        yield client, run.id
    await store.close()


@pytest.fixture
async def dev() -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    async for pair in client_for(Settings(database_url="memory://", discovery=False)):
        yield pair


def score(run_id: str, name: str, value: float, step_id: str | None = None) -> dict[str, Any]:
    """The body the Python SDK's ``client.score()`` sends."""
    target: dict[str, Any] = {"run_id": run_id}
    if step_id is not None:
        target["step_id"] = step_id
    return {
        "target": target,
        "metadata": [{"kind": "inngest.score", "op": "merge", "values": {name: {"value": value}}}],
    }


async def test_scores_and_metadata_are_stored_and_shown_with_the_run(
    dev: tuple[httpx.AsyncClient, str],
) -> None:
    client, run_id = dev
    path = f"/v1/runs/{run_id}/metadata"
    assert (await client.post(path, json=score(run_id, "accuracy", 0.5))).status_code == 200
    assert (await client.post(path, json=score(run_id, "latency", 3))).status_code == 200
    assert (await client.post(path, json=score(run_id, "accuracy", 0.9))).status_code == 200
    set_twice = {
        "target": {"run_id": run_id, "step_id": "load", "step_index": 0, "step_attempt": 0},
        "metadata": [
            {"kind": "userland.default", "op": "set", "values": {"status": "loading", "n": 1}},
            {"kind": "userland.default", "op": "set", "values": {"status": "done"}},
        ],
    }
    assert (await client.post(path, json=set_twice)).status_code == 200

    shown = (await client.get(f"/v1/runs/{run_id}")).json()["data"]["inlet"]["metadata"]
    assert [(m["step_id"], m["kind"], m["values"]) for m in shown] == [
        (None, "inngest.score", {"accuracy": {"value": 0.9}, "latency": {"value": 3}}),
        ("load", "userland.default", {"status": "done"}),
    ]


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"target": {"run_id": "other"}, "metadata": []}, "target.run_id"),
        ({"metadata": []}, "metadata must be a non-empty list"),
        ({"metadata": [{"kind": "", "op": "set", "values": {}}]}, "metadata[0].kind"),
        ({"metadata": [{"kind": "k", "op": "replace", "values": {}}]}, "metadata[0].op"),
        ({"metadata": [{"kind": "k", "op": "set", "values": [1]}]}, "metadata[0].values"),
        ({"metadata": [{"kind": "k", "op": "set", "values": {"x": "y" * 70_000}}]}, "bytes"),
        ({"target": {"step_id": 3}, "metadata": [{}]}, "target.step_id"),
    ],
)
async def test_a_bad_body_is_refused_naming_the_field_and_stores_nothing(
    dev: tuple[httpx.AsyncClient, str], body: dict[str, Any], named: str
) -> None:
    client, run_id = dev
    resp = await client.post(f"/v1/runs/{run_id}/metadata", json=body)
    assert resp.status_code == 400, resp.text
    assert named in resp.json()["error"]
    shown = (await client.get(f"/v1/runs/{run_id}")).json()["data"]["inlet"]["metadata"]
    assert shown == []


async def test_an_unknown_run_is_a_404(dev: tuple[httpx.AsyncClient, str]) -> None:
    client, _ = dev
    resp = await client.post("/v1/runs/nope/metadata", json=score("nope", "a", 1))
    assert resp.status_code == 404
    assert "run 'nope' not found" in resp.json()["error"]


async def test_inlet_start_takes_the_signing_key_as_bearer_and_no_api_token() -> None:
    settings = Settings(
        database_url="memory://",
        discovery=False,
        profile="start",
        signing_key=SIGNING_KEY,
        event_keys=("key",),
    )
    async for client, run_id in client_for(settings):
        path = f"/v1/runs/{run_id}/metadata"
        body = score(run_id, "accuracy", 1)
        assert (await client.post(path, json=body)).status_code == 401
        wrong = {"Authorization": f"Bearer {hashed_key('signkey-prod-ffff')}"}
        assert (await client.post(path, json=body, headers=wrong)).status_code == 401
        signed = {"Authorization": f"Bearer {hashed_key(SIGNING_KEY)}"}
        assert (await client.post(path, json=body, headers=signed)).status_code == 200


TRACE = """query ($runId: String!) { run(runID: $runId) { trace(preview: true) {
  name stepID metadata { scope kind values updatedAt }
  childrenSpans { name stepID metadata { scope kind values } } } } }"""


async def test_the_trace_shows_run_metadata_on_the_run_and_step_metadata_on_its_step() -> None:
    # inngest-js's scoring tests read scores from the trace's spans, as its dev server
    # shows them; a step is named by the id the user gave it, its span by the hashed id.
    store = MemoryStore()
    app = create_app(Settings(database_url="memory://", discovery=False), store=store)
    await store.open()
    fn = Function("app-a", APP, "a", f"{APP}?fnId=app-a", (Trigger(event="app/x"),))
    await store.save_app(App(APP, "app"), [fn])
    await app.state.server.reload_functions()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://inlet") as client:
        [event_id] = (await client.post("/e/any", json={"name": "app/x"})).json()["ids"]
        [run] = await store.runs_for_event(event_id)
        [claim] = await store.claim(NOW, 1, NOW + 30, "worker-a")
        hashed = hashlib.sha1(b"my-step").hexdigest()
        step = {"id": hashed, "op": "StepRun", "name": "my-step", "data": None}
        checkpoint = {"qi_id": dispatch_id(claim.item.id, claim.lease), "steps": [step]}
        saved = await client.post(f"/v1/checkpoint/{run.id}/async", json=checkpoint)
        assert saved.status_code == 200, saved.text
        path = f"/v1/runs/{run.id}/metadata"
        assert (await client.post(path, json=score(run.id, "run_score", 1))).status_code == 200
        step_score = score(run.id, "step_score", 0, step_id="my-step")
        assert (await client.post(path, json=step_score)).status_code == 200

        reply = await client.post("/v0/gql", json={"query": TRACE, "variables": {"runId": run.id}})
    await store.close()
    trace = reply.json()["data"]["run"]["trace"]
    assert [(m["scope"], m["kind"], m["values"]) for m in trace["metadata"]] == [
        ("run", "inngest.score", {"run_score": {"value": 1}})
    ]
    [span] = [s for s in trace["childrenSpans"] if s["stepID"] == hashed]
    assert span["metadata"] == [
        {"scope": "step", "kind": "inngest.score", "values": {"step_score": {"value": 0}}}
    ]
