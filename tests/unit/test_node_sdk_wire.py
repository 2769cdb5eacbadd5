"""What the TypeScript SDKs send, read as they mean it (the unit side of test_node_sdk.py)."""

from __future__ import annotations

import orjson

from inlet.model import Event, Function, ItemKind, Outcome, QueueItem, Run, RunState, RunStatus
from inlet.steps.backoff import RetryPolicy
from inlet.steps.machine import Call, Limits, Reply, interpret

NOW = 1_800_000_000.0
TS_V3 = {"x-inngest-sdk": "inngest-js:v3.54.2", "x-inngest-req-version": "1"}
LIMITS = Limits(max_step_output_bytes=10_000, max_state_bytes=100_000, max_steps=100)


def respond(ops: list[dict[str, object]], headers: dict[str, str] = TS_V3) -> Outcome:
    run = Run(
        id="R",
        function_slug="app-fn",
        event_ids=("E1",),
        status=RunStatus.RUNNING,
        created_at=NOW - 10,
        started_at=NOW,
        request_version=1,
    )
    trigger = Event(internal_id="E1", name="app/order", data={}, id="E1", ts=1)
    fn = Function(slug="app-fn", app_url="http://a", name="fn", url="http://a", triggers=())
    item = QueueItem(id="I", run_id="R", kind=ItemKind.DISCOVERY, step_id="step", due_at=NOW)
    call = Call(
        item=item,
        state=RunState(run=run, events=(trigger,), memos=()),
        function=fn,
        started_at=NOW,
        exists=lambda s: True,
    )
    reply = Reply(status=206, headers=headers, body=orjson.dumps(ops))
    return interpret(call, reply, now=NOW, jitter=0, retry=RetryPolicy(1.0), limits=LIMITS)


def test_a_v3_sleep_shorter_than_a_second_is_a_sleep_that_ends_now() -> None:
    # step.sleep("nap", 500) on inngest@3: whole seconds only, so the name is empty.
    out = respond([{"id": "s", "op": "Sleep", "name": "", "displayName": "nap"}])

    assert out.finish is None, out.attempt.error
    [item] = out.enqueue
    assert (item.kind, item.step_id, item.due_at) == (ItemKind.TIMER, "s", NOW)


def test_a_v3_sleep_of_one_and_a_half_seconds_keeps_the_whole_second() -> None:
    out = respond([{"id": "s", "op": "Sleep", "name": "1s", "displayName": "nap"}])

    assert out.enqueue[0].due_at == NOW + 1


def test_a_sleep_with_no_name_and_no_duration_still_fails_the_run_clearly() -> None:
    out = respond([{"id": "s", "op": "Sleep", "displayName": "nap"}])

    assert out.finish is not None
    assert "sleep 'nap' has no duration or time (got None)" in str(out.attempt.error)
