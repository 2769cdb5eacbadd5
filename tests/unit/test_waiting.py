"""Timers, waiting opcodes and event routing, with the in-memory store and fixed times."""

from __future__ import annotations

import orjson

from inlet.model import (
    Event,
    Function,
    ItemKind,
    ListenerKind,
    NewRun,
    Outcome,
    QueueItem,
    Run,
    RunState,
    RunStatus,
    StoredMemo,
    Trigger,
)
from inlet.runs.registry import Registry
from inlet.runs.router import Router
from inlet.steps import timers
from inlet.steps.backoff import RetryPolicy
from inlet.steps.machine import Call, Limits, Reply, interpret
from inlet.store.memory import MemoryStore

NOW = 1_800_000_000.0
SDK = {"x-inngest-sdk": "inngest-py:v0.5.19", "x-inngest-req-version": "2"}
LIMITS = Limits(max_step_output_bytes=10_000, max_state_bytes=100_000, max_steps=100)
TRIGGER = Event(internal_id="E1", name="app/order", data={"id": 7}, id="E1", ts=1)


def state(
    *,
    status: RunStatus = RunStatus.RUNNING,
    started: float | None = NOW,
    memos: tuple[StoredMemo, ...] = (),
) -> RunState:
    run = Run(
        id="R",
        function_slug="app-fn",
        event_ids=("E1",),
        status=status,
        created_at=NOW - 10,
        started_at=started,
        request_version=2,
    )
    return RunState(run=run, events=(TRIGGER,), memos=memos)


def respond(ops: list[dict[str, object]], exists: bool = True) -> Outcome:
    fn = Function(slug="app-fn", app_url="http://a", name="fn", url="http://a", triggers=())
    item = QueueItem(id="I", run_id="R", kind=ItemKind.DISCOVERY, step_id="step", due_at=NOW)
    call = Call(item=item, state=state(), function=fn, started_at=NOW, exists=lambda s: exists)
    reply = Reply(status=206, headers=SDK, body=orjson.dumps(ops))
    return interpret(call, reply, now=NOW, jitter=0, retry=RetryPolicy(1.0), limits=LIMITS)


def timer(payload: object, step_id: str = "s") -> QueueItem:
    return QueueItem(
        id="T", run_id="R", kind=ItemKind.TIMER, step_id=step_id, due_at=NOW, payload=payload
    )


def test_a_python_sleep_becomes_a_timer_at_its_absolute_time() -> None:
    out = respond(
        [{"id": "s", "op": "Sleep", "name": "2027-01-15T08:00:02.000Z", "displayName": "nap"}]
    )
    [item] = out.enqueue
    assert (item.kind, item.step_id, item.due_at) == (ItemKind.TIMER, "s", NOW + 2)
    assert item.payload == {"memo": None, "op": "Sleep"} and out.attempt.outcome == "waiting"


def test_a_typescript_sleep_duration_counts_from_now() -> None:
    out = respond([{"id": "s", "op": "Sleep", "name": "s", "opts": {"duration": "5s"}}])
    assert out.enqueue[0].due_at == NOW + 5


def test_a_sleep_longer_than_a_year_fails_the_run_clearly() -> None:
    out = respond([{"id": "s", "op": "Sleep", "name": "400d", "displayName": "nap"}])
    assert out.finish is not None and "longer than the maximum of one year" in str(
        out.attempt.error
    )


def test_a_wait_fixes_the_trigger_into_its_condition_and_indexes_it() -> None:
    out = respond(
        [
            {
                "id": "w",
                "op": "WaitForEvent",
                "name": "app/paid",
                "opts": {"if": "event.data.id == async.data.id", "timeout": "1m"},
            }
        ]
    )
    [listener] = out.listeners
    assert listener.kind is ListenerKind.WAIT and listener.event == "app/paid"
    assert listener.expression == "7 == async.data.id"
    assert listener.index == (("data.id", 7),) and listener.expires_at == NOW + 60
    assert [(i.kind, i.due_at) for i in out.enqueue] == [(ItemKind.TIMER, NOW + 60)]


def test_an_invoke_emits_the_invoked_event_and_listens_for_the_childs_finish() -> None:
    out = respond(
        [
            {
                "id": "i",
                "op": "InvokeFunction",
                "displayName": "child",
                "opts": {"function_id": "app-child", "payload": {"data": {"x": 1}}},
            }
        ]
    )
    [event] = out.events
    assert event.name == "inngest/function.invoked" and event.data["x"] == 1
    assert event.data["_inngest"]["fn_id"] == "app-child"
    assert event.data["_inngest"]["correlation_id"] == "R.i"
    [listener] = out.listeners
    assert listener.event == "inngest/function.finished"
    assert listener.index == (("data.correlation_id", "R.i"),)
    assert out.enqueue[0].payload["memo"]["error"]["name"] == "InngestInvokeTimeoutError"


def test_an_invoke_timeout_longer_than_a_year_fails_the_run_like_a_long_sleep() -> None:
    out = respond(
        [
            {
                "id": "i",
                "op": "InvokeFunction",
                "displayName": "child",
                "opts": {"function_id": "app-child", "timeout": "400d"},
            }
        ]
    )
    assert out.finish is not None and not out.events and not out.listeners
    assert "invoke 'child': '400d' is 400 days away" in str(out.attempt.error)
    assert "longer than the maximum of one year" in str(out.attempt.error)


def test_an_invoke_timeout_of_exactly_a_year_is_accepted() -> None:
    out = respond(
        [{"id": "i", "op": "InvokeFunction", "opts": {"function_id": "c", "timeout": "365d"}}]
    )
    assert out.finish is None and out.listeners[0].expires_at == NOW + 365 * 86400


def test_an_invoke_of_an_unknown_function_resolves_at_once_with_an_error() -> None:
    out = respond(
        [{"id": "i", "op": "InvokeFunction", "opts": {"function_id": "nope"}}], exists=False
    )
    assert "no such function" in out.memos[0].value["error"]["message"]
    assert out.enqueue[0].kind is ItemKind.DISCOVERY


def test_the_call_after_a_sleep_that_joins_a_parallel_group_still_plans() -> None:
    # Go resumes such a sleep by calling the app with the run's metadata as read before
    # the join reset planning mode (executor.go, maybeResetForceStepPlan).
    grouped = timers.fire(timer({"memo": None, "op": "Sleep", "joins_group": True}), state(), NOW)
    assert grouped.force_plan is True and grouped.enqueue[0].after_join
    alone = timers.fire(timer({"memo": None, "op": "Sleep"}), state(), NOW)
    assert alone.force_plan is None


def test_a_sleep_timer_records_a_null_memo_and_asks_for_discovery() -> None:
    out = timers.fire(timer({"memo": None, "op": "Sleep"}), state(), NOW)
    assert [(m.step_id, m.value, m.op) for m in out.memos] == [("s", None, "Sleep")]
    assert out.enqueue[0].kind is ItemKind.DISCOVERY


def test_a_timer_for_a_step_already_resolved_does_nothing() -> None:
    resolved = StoredMemo("s", {"name": "app/paid"}, "", "Resume", 0, NOW)
    out = timers.fire(timer({"memo": None}), state(memos=(resolved,)), NOW)
    assert out.memos == () and out.enqueue == () and out.attempt.outcome == "skipped"


def test_a_start_timeout_cancels_a_run_that_never_started() -> None:
    out = timers.fire(
        timer({"timeout": "start", "seconds": 5}, "timeout:start"),
        state(status=RunStatus.QUEUED, started=None),
        NOW,
    )
    assert out.finish is not None and out.finish.status is RunStatus.CANCELLED
    assert "timeouts.start" in str(out.finish.error)


def test_a_finish_timeout_waits_for_the_deadline_counted_from_the_start() -> None:
    early = timers.fire(
        timer({"timeout": "finish", "seconds": 30}, "timeout:finish"), state(started=NOW - 10), NOW
    )
    assert early.finish is None and early.retry_at == NOW + 20
    late = timers.fire(
        timer({"timeout": "finish", "seconds": 30}, "timeout:finish"), state(started=NOW - 31), NOW
    )
    assert late.finish is not None and "timeouts.finish" in str(late.finish.error)


async def test_routing_resumes_only_the_wait_whose_condition_matches() -> None:
    store = MemoryStore()
    registry = Registry([])
    router = Router(store, lambda: registry)
    ev = Event(internal_id="E1", name="app/order", data={"id": 7}, id="E1", ts=1)
    await store.ingest([ev], [NewRun("R", "app-fn", ("E1",), "k", NOW)], NOW, 60)
    [claim] = await store.claim(NOW, 1, NOW + 30, "w")
    waited = respond(
        [
            {
                "id": "w",
                "op": "WaitForEvent",
                "name": "app/paid",
                "opts": {"if": "event.data.id == async.data.id", "timeout": "1m"},
            }
        ]
    )
    await store.complete(claim, waited, NOW, 60)
    other = Event(internal_id="E2", name="app/paid", data={"id": 8}, id="E2", ts=1)
    mine = Event(internal_id="E3", name="app/paid", data={"id": 7}, id="E3", ts=1)
    assert (await router.route([other], NOW)).resumes == ()
    [resume] = (await router.route([mine], NOW)).resumes
    assert resume.memo == mine.to_wire() and resume.step_id == "w"


async def test_a_cancel_on_listener_is_made_with_each_run_and_cancels_it() -> None:
    fn = Function(
        slug="app-fn",
        app_url="http://a",
        name="fn",
        url="http://a",
        triggers=(Trigger(event="app/order"),),
        config={"cancel": [{"event": "app/stop", "if": "event.data.id == async.data.id"}]},
    )
    registry = Registry([fn])
    store = MemoryStore()
    router = Router(store, lambda: registry)
    routed = await router.route([TRIGGER], NOW)
    [run] = routed.runs
    assert run.listeners[0].expression == "7 == async.data.id"
    await store.ingest([TRIGGER], routed.runs, NOW, 60)
    stop = Event(internal_id="E9", name="app/stop", data={"id": 7}, id="E9", ts=1)
    [cancel] = (await router.route([stop], NOW)).cancels
    assert cancel.run_id == run.id and cancel.error["name"] == "FunctionCancelled"
    assert [e.name for e in cancel.events] == [
        "inngest/function.finished",
        "inngest/function.cancelled",
    ]
