"""``POST /v1/checkpoint/{run_id}/async`` as the TS v4 SDK calls it during a call request:
its steps are recorded as a 206 reply would record them and the call's attempt is reset;
a dispatch that is no longer current gets 409, an opcode that is not a finished step 400,
a step or body over the call reply's limits 413, a missing or wrong signing key 401 in
``inlet start``. The durable-endpoint routes: ``test_endpoint_api.py``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

import httpx
import pytest

from inlet.clock import FakeClock
from inlet.config import Settings
from inlet.model import App, Attempt, Finish, Function, Outcome, RunStatus, Trigger
from inlet.protocol.signing import hashed_key
from inlet.server import Server, create_app
from inlet.steps import defer
from inlet.steps.checkpoint import dispatch_id
from inlet.steps.defer import SCHEDULE
from inlet.store.base import Claim
from inlet.store.memory import MemoryStore

NOW = 1_800_000_000.0
APP = "http://app.test/api/inngest"
SIGNING_KEY = "signkey-prod-0123456789abcdef"
LEASE = 30.0


@dataclass
class InFlight:
    """A run whose discovery call is out: the claim the executor would hold."""

    client: httpx.AsyncClient
    store: MemoryStore
    run_id: str
    claim: Claim
    server: Server

    @property
    def path(self) -> str:
        return f"/v1/checkpoint/{self.run_id}/async"

    def body(self, *steps: dict[str, Any], claim: Claim | None = None) -> dict[str, Any]:
        claim = claim or self.claim
        return {
            "run_id": self.run_id,
            "fn_id": "app-a",
            "qi_id": dispatch_id(claim.item.id, claim.lease),
            "request_id": "r1",
            "steps": list(steps),
            "ts": NOW * 1000,
        }


def step_run(name: str, data: Any) -> dict[str, Any]:
    return {"id": f"{name:0>40}", "op": "StepRun", "name": name, "displayName": name, "data": data}


async def in_flight(settings: Settings) -> AsyncIterator[InFlight]:
    store = MemoryStore()
    app = create_app(settings, store=store, clock=FakeClock(NOW))
    await store.open()
    fn = Function("app-a", APP, "a", f"{APP}?fnId=app-a", (Trigger(event="app/x"),))
    deferred = Function(
        "app-foo",
        APP,
        "foo",
        f"{APP}?fnId=app-foo",
        (Trigger(SCHEDULE, expression="event.data._inngest.fn_slug == 'app-foo'"),),
    )
    await store.save_app(App(APP, "app"), [fn, deferred])
    server: Server = app.state.server
    await server.reload_functions()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://inlet") as client:
        key = settings.event_keys[0] if settings.event_keys else "any"
        sent = await client.post(f"/e/{key}", json={"name": "app/x", "data": {}})
        [event_id] = sent.json()["ids"]
        [run] = await store.runs_for_event(event_id)
        [claim] = await store.claim(NOW, 1, NOW + LEASE, "worker-a")
        yield InFlight(client, store, run.id, claim, server)
    await store.close()


@pytest.fixture
async def dev() -> AsyncIterator[InFlight]:
    settings = Settings(
        database_url="memory://",
        discovery=False,
        max_step_output_bytes=1000,
        max_response_bytes=4000,
    )
    async for flight in in_flight(settings):
        yield flight


async def test_each_step_is_saved_as_a_memo_with_its_history_row(dev: InFlight) -> None:
    resp = await dev.client.post(dev.path, json=dev.body(step_run("one", 1)))
    assert resp.status_code == 200, resp.text
    resp = await dev.client.post(dev.path, json=dev.body(step_run("two", {"b": 2})))
    assert resp.status_code == 200, resp.text

    state = await dev.store.run_state(dev.run_id)
    assert state is not None
    assert [(m.step_id, m.value, m.op) for m in state.memos] == [
        (f"{'one':0>40}", {"data": 1}, "StepRun"),
        (f"{'two':0>40}", {"data": {"b": 2}}, "StepRun"),
    ]
    assert state.run.step_count == 2 and state.run.status is RunStatus.RUNNING
    rows = await dev.store.history(dev.run_id)
    assert [(r.outcome, r.name, r.output, r.op_step) for r in rows] == [
        ("step", "one", 1, f"{'one':0>40}"),
        ("step", "two", {"b": 2}, f"{'two':0>40}"),
    ]


async def test_a_defer_checkpointed_with_its_step_is_kept_and_starts_when_the_run_ends(
    dev: InFlight,
) -> None:
    # TS v4 sends a defer() called inside a checkpointed step.run with that step.
    add = {"id": "d" * 40, "op": "DeferAdd", "name": "foo", "opts": {"fn_slug": "app-foo"}}
    resp = await dev.client.post(dev.path, json=dev.body(step_run("a", None), add))
    assert resp.status_code == 200, resp.text

    state = await dev.store.run_state(dev.run_id)
    assert state is not None
    assert [m.op for m in state.memos] == ["StepRun", "DeferAdd"]
    assert defer.prior(state.memos) == {"d" * 40: {"abortable": True}}
    rows = await dev.store.history(dev.run_id)
    assert [r.name for r in rows] == ["a"]
    # The call's reply ends the run; its state was read before the checkpoint, so the
    # reply's outcome names no deferred run: it is started from what the store recorded.
    done = Attempt.of(dev.claim.item, NOW, "completed")
    ended = Outcome(attempt=done, finish=Finish(RunStatus.COMPLETED))
    assert await dev.server.applier.complete(dev.claim, ended, NOW)
    [schedule] = await dev.store.list_events(SCHEDULE, 10)
    assert schedule.data["_inngest"] == {
        "fn_slug": "app-foo",
        "parent_fn_slug": "app-a",
        "parent_run_id": dev.run_id,
    }
    [child] = await dev.store.runs_for_event(schedule.internal_id)
    assert child.function_slug == "app-foo"


async def test_a_defer_aborted_in_a_checkpoint_does_not_start_though_the_reply_named_it(
    dev: InFlight,
) -> None:
    add = {"id": "d" * 40, "op": "DeferAdd", "name": "foo", "opts": {"fn_slug": "app-foo"}}
    abort = {"id": "e" * 40, "op": "DeferAbort", "opts": {"target_hashed_id": "d" * 40}}
    assert (await dev.client.post(dev.path, json=dev.body(add))).status_code == 200
    assert (await dev.client.post(dev.path, json=dev.body(abort))).status_code == 200
    # interpret() saw neither checkpoint's state and might have named the start event.
    state = await dev.store.run_state(dev.run_id)
    assert state is not None
    stale = replace(state, memos=tuple(m for m in state.memos if m.op == "DeferAdd"))
    done = Attempt.of(dev.claim.item, NOW, "completed")
    ended = Outcome(
        attempt=done,
        finish=Finish(RunStatus.COMPLETED),
        events=tuple(defer.scheduled(stale, [], NOW)),
    )
    assert ended.events
    assert await dev.server.applier.complete(dev.claim, ended, NOW)
    assert await dev.store.list_events(SCHEDULE, 10) == []


async def test_a_checkpoint_sent_again_records_nothing_twice(dev: InFlight) -> None:
    body = dev.body(step_run("one", 1))
    assert (await dev.client.post(dev.path, json=body)).status_code == 200
    assert (await dev.client.post(dev.path, json=body)).status_code == 200

    state = await dev.store.run_state(dev.run_id)
    assert state is not None and len(state.memos) == 1 and state.run.step_count == 1
    assert len(await dev.store.history(dev.run_id)) == 1


async def test_a_checkpoint_resets_the_attempt_of_the_call_in_flight(dev: InFlight) -> None:
    # The call fails once: attempt 1 is called next.
    failed = Outcome(attempt=Attempt.of(dev.claim.item, NOW, "retry"), retry_at=NOW + 1)
    assert await dev.store.complete(dev.claim, failed, NOW, 60)
    [second] = await dev.store.claim(NOW + 1, 1, NOW + 1 + LEASE, "worker-a")
    assert second.item.attempt == 1
    # It checkpoints a step, then fails: the next attempt counts from the checkpoint.
    body = dev.body(step_run("one", 1), claim=second)
    assert (await dev.client.post(dev.path, json=body)).status_code == 200
    failed = Outcome(attempt=Attempt.of(second.item, NOW + 1, "retry"), retry_at=NOW + 2)
    assert await dev.store.complete(second, failed, NOW + 1, 60)
    [third] = await dev.store.claim(NOW + 2, 1, NOW + 2 + LEASE, "worker-a")
    assert third.item.attempt == 1


async def test_a_dispatch_whose_lease_was_taken_over_gets_409_and_records_nothing(
    dev: InFlight,
) -> None:
    # The lease ran out and another worker called the item again.
    [taken] = await dev.store.claim(NOW + LEASE + 1, 1, NOW + 2 * LEASE, "worker-b")
    assert taken.item.id == dev.claim.item.id

    resp = await dev.client.post(dev.path, json=dev.body(step_run("one", 1)))

    assert resp.status_code == 409, resp.text
    assert resp.json()["code"] == "stale_dispatch"
    state = await dev.store.run_state(dev.run_id)
    assert state is not None and state.memos == ()
    # The current dispatch is taken.
    current = dev.body(step_run("one", 1), claim=taken)
    assert (await dev.client.post(dev.path, json=current)).status_code == 200


async def test_a_checkpoint_after_the_call_was_answered_gets_409(dev: InFlight) -> None:
    done = Outcome(attempt=Attempt.of(dev.claim.item, NOW, "noop"))
    assert await dev.store.complete(dev.claim, done, NOW, 60)

    resp = await dev.client.post(dev.path, json=dev.body(step_run("late", 1)))

    assert resp.status_code == 409, resp.text


@pytest.mark.parametrize("op", ["Sleep", "WaitForEvent", "StepPlanned", "StepError", "RunComplete"])
async def test_an_opcode_that_is_not_a_finished_step_gets_400_naming_it(
    dev: InFlight, op: str
) -> None:
    step = {**step_run("nap", None), "op": op}

    resp = await dev.client.post(dev.path, json=dev.body(step_run("one", 1), step))

    assert resp.status_code == 400, resp.text
    error = resp.json()["error"]
    assert repr(op) in error and "StepRun" in error and "206" in error
    state = await dev.store.run_state(dev.run_id)
    assert state is not None and state.memos == ()


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"steps": []}, "qi_id=None"),
        ({"qi_id": "no-separator", "steps": []}, "qi_id='no-separator'"),
        ({"qi_id": "a/b", "steps": {"id": 1}}, "steps must be an array"),
        ({"qi_id": "a/b", "run_id": "other", "steps": []}, "run_id='other'"),
    ],
)
async def test_a_body_that_is_not_a_checkpoint_gets_400_naming_the_value(
    dev: InFlight, body: dict[str, Any], named: str
) -> None:
    resp = await dev.client.post(dev.path, json=body)

    assert resp.status_code == 400, resp.text
    assert named in resp.json()["error"]


async def test_a_step_over_the_output_limit_gets_413(dev: InFlight) -> None:
    resp = await dev.client.post(dev.path, json=dev.body(step_run("big", "x" * 1200)))

    assert resp.status_code == 413, resp.text
    assert "'big'" in resp.json()["error"] and "1000" in resp.json()["error"]


async def test_a_body_over_the_reply_limit_gets_413(dev: InFlight) -> None:
    steps = [step_run(f"s{i}", "x" * 900) for i in range(5)]

    resp = await dev.client.post(dev.path, json=dev.body(*steps))

    assert resp.status_code == 413, resp.text
    assert "4000" in resp.json()["error"]
    state = await dev.store.run_state(dev.run_id)
    assert state is not None and state.memos == ()


async def test_an_unknown_run_gets_404(dev: InFlight) -> None:
    body = {**dev.body(step_run("one", 1)), "run_id": "01NOSUCHRUN"}
    resp = await dev.client.post("/v1/checkpoint/01NOSUCHRUN/async", json=body)
    assert resp.status_code == 404, resp.text


async def test_inlet_start_takes_the_signing_key_as_bearer_and_no_api_token() -> None:
    settings = Settings(
        database_url="memory://",
        discovery=False,
        profile="start",
        signing_key=SIGNING_KEY,
        event_keys=("key",),
    )
    async for flight in in_flight(settings):
        body = flight.body(step_run("one", 1))
        assert (await flight.client.post(flight.path, json=body)).status_code == 401
        wrong = {"Authorization": f"Bearer {hashed_key('signkey-prod-ffff')}"}
        resp = await flight.client.post(flight.path, json=body, headers=wrong)
        assert resp.status_code == 401
        assert "INNGEST_SIGNING_KEY" in resp.json()["error"]
        signed = {"Authorization": f"Bearer signkey-prod-{hashed_key(SIGNING_KEY)}"}
        assert (await flight.client.post(flight.path, json=body, headers=signed)).status_code == 200
