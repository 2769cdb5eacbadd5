"""The newest SDKs' opcodes, one reply at a time: ``DeferAdd``/``DeferAbort`` (recorded,
deduplicated, started when the run ends unless aborted), ``RunComplete`` carrying defers,
``Gateway``/``AIGateway`` (the call the op asks for and the op its result stands for), and
the one-year cap on sleeps and waits. Shapes are those of inngest-js 4.24 and inngest-py
0.5.20a0."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import orjson
import pytest

from inlet.executor import step_metadata
from inlet.model import (
    Event,
    Function,
    ItemKind,
    Memo,
    QueueItem,
    Run,
    RunState,
    RunStatus,
    StoredMemo,
)
from inlet.steps import defer, gateway
from inlet.steps.backoff import RetryPolicy
from inlet.steps.machine import Call, Limits, Reply, interpret
from inlet.steps.ops import Op
from inlet.steps.request import build
from inlet.store.metadata import MetadataUpdate

NOW = 1_800_000_000.0
FIXED = RetryPolicy(5.0)
LIMITS = Limits(max_step_output_bytes=10**8, max_state_bytes=10**8, max_steps=100)


def call() -> Call:
    run = Run(
        id="R",
        function_slug="app-fn",
        event_ids=("E",),
        status=RunStatus.RUNNING,
        created_at=NOW,
    )
    fn = Function(
        slug="app-fn",
        app_url="http://a",
        name="fn",
        url="http://a/api/inngest?fnId=app-fn&stepId=step",
        triggers=(),
        retries=2,
    )
    item = QueueItem(
        id="I", run_id="R", kind=ItemKind.DISCOVERY, step_id="step", due_at=NOW, attempt=0
    )
    event = Event(internal_id="E", name="app/x", data={}, id="E", ts=1)
    return Call(
        item=item,
        state=RunState(run=run, events=(event,), memos=()),
        function=fn,
        started_at=NOW,
    )


def reply(status: int, body: object) -> Reply:
    headers = {"x-inngest-sdk": "inngest-js:v4.24.0", "x-inngest-req-version": "2"}
    return Reply(status=status, headers=headers, body=orjson.dumps(body))


ADD: dict[str, Any] = {
    "id": "d1",
    "op": "DeferAdd",
    "name": "score",
    "displayName": "score",
    "opts": {"fn_slug": "app-scorer", "input": {"user": 7}, "meta": {"sessions": {"a": "1"}}},
    "userland": {"id": "score"},
    "data": None,
}
ABORT: dict[str, Any] = {
    "id": "d1-abort",
    "op": "DeferAbort",
    "name": "score",
    "opts": {"target_hashed_id": "d1", "fn_slug": "app-scorer", "id": "score"},
}
STEP = {"id": "s1", "op": "StepRun", "name": "work", "data": 1}
COMPLETE = {"id": "c", "op": "RunComplete", "data": {"done": True}}


def run(c: Call, *ops: dict[str, Any]) -> Any:
    return interpret(c, reply(206, list(ops)), now=NOW, jitter=0.0, retry=FIXED, limits=LIMITS)


def with_memos(c: Call, *memos: Memo) -> Call:
    stored = tuple(
        StoredMemo(m.step_id, m.value, m.name, m.op, i, NOW) for i, m in enumerate(memos)
    )
    return replace(c, state=RunState(run=c.state.run, events=c.state.events, memos=stored))


def test_a_defer_riding_with_a_step_is_recorded_and_does_not_make_the_reply_parallel() -> None:
    outcome = run(call(), STEP, ADD)
    assert [(m.step_id, m.op) for m in outcome.memos] == [("s1", "StepRun"), ("d1", "DeferAdd")]
    added = outcome.memos[1].value
    assert added == {
        "fn_slug": "app-scorer",
        "status": "after_run",
        "input": {"user": 7},
        "meta": {"sessions": {"a": "1"}},
    }
    assert outcome.force_plan is not True
    assert outcome.events == ()  # nothing starts before the run ends


def test_a_defer_reported_again_on_replay_is_recorded_once() -> None:
    c = with_memos(
        call(), Memo("d1", {"fn_slug": "app-scorer", "status": "after_run"}, "", "DeferAdd")
    )
    outcome = run(c, STEP, ADD)
    assert [m.step_id for m in outcome.memos] == ["s1"]


def test_a_lone_defer_still_moves_the_run_on() -> None:
    outcome = run(call(), ADD)
    assert [m.op for m in outcome.memos] == ["DeferAdd"]
    assert [i.kind.value for i in outcome.enqueue] == ["discovery"]


def test_run_complete_after_defers_ends_the_run_and_starts_each_defer_once() -> None:
    outcome = run(call(), ADD, COMPLETE)
    assert outcome.finish is not None and outcome.finish.status is RunStatus.COMPLETED
    assert outcome.finish.output == {"done": True}
    (event,) = outcome.events
    assert event.name == "inngest/deferred.schedule"
    assert event.data == {
        "user": 7,
        "_inngest": {"fn_slug": "app-scorer", "parent_fn_slug": "app-fn", "parent_run_id": "R"},
    }
    assert event.meta == {"sessions": {"a": "1"}}
    again = run(call(), ADD, COMPLETE)
    assert again.events[0].id == event.id  # the same ending applied twice is a duplicate


def test_an_aborted_defer_never_starts() -> None:
    c = with_memos(
        call(), Memo("d1", {"fn_slug": "app-scorer", "status": "after_run"}, "", "DeferAdd")
    )
    outcome = run(c, ABORT, COMPLETE)
    assert [m.op for m in outcome.memos] == ["DeferAbort"]
    assert outcome.events == ()


def test_defers_recorded_earlier_start_when_a_plain_200_ends_the_run() -> None:
    c = with_memos(call(), Memo("d1", ADD["opts"] | {"status": "after_run"}, "", "DeferAdd"))
    outcome = interpret(c, reply(200, {"ok": 1}), now=NOW, jitter=0.0, retry=FIXED, limits=LIMITS)
    assert [e.name for e in outcome.events] == ["inngest/deferred.schedule"]


def test_a_defer_with_no_function_fails_the_run_naming_the_field() -> None:
    bad: dict[str, Any] = {**ADD, "opts": {"input": {}}}
    outcome = run(call(), bad)
    assert outcome.finish is not None and outcome.finish.status is RunStatus.FAILED
    assert "opts.fn_slug" in (outcome.attempt.error or "")


def test_an_oversized_defer_is_refused_without_failing_the_run() -> None:
    big = {**ADD, "opts": {"fn_slug": "app-scorer", "input": {"x": "a" * defer.MAX_INPUT_BYTES}}}
    outcome = run(call(), big, COMPLETE)
    assert outcome.finish is not None and outcome.finish.status is RunStatus.COMPLETED
    assert outcome.memos[0].value == {"fn_slug": "app-scorer", "status": "rejected", "input": None}
    assert outcome.events == ()


def test_the_call_request_tells_the_sdk_of_its_defers_and_keeps_them_out_of_steps() -> None:
    c = with_memos(
        call(),
        Memo("s1", {"data": 1}, "work", "StepRun"),
        Memo("d1", {"fn_slug": "f", "status": "after_run"}, "", "DeferAdd"),
        Memo("d2", {"fn_slug": "f", "status": "after_run"}, "", "DeferAdd"),
        Memo("d2-abort", {"target_hashed_id": "d2"}, "", "DeferAbort"),
    )
    body = orjson.loads(build(c.state, c.item, c.function, use_api_threshold=10**9).body)
    assert body["steps"] == {"s1": {"data": 1}}
    assert body["ctx"]["stack"]["stack"] == ["s1"]
    assert body["defers"] == {"d1": {"abortable": True}, "d2": {"abortable": False}}


FETCH: dict[str, Any] = {
    "id": "g1",
    "op": "Gateway",
    "displayName": "step.fetch: example.test",
    "opts": {"url": "http://example.test/x", "method": "POST", "headers": {"a": "b"}, "body": "hi"},
}
INFER: dict[str, Any] = {
    "id": "g2",
    "op": "AIGateway",
    "displayName": "ask",
    "opts": {
        "type": "step.ai.infer",
        "url": "http://model.test/v1/chat/completions",
        "headers": {},
        "auth_key": "sk-1",
        "format": "openai-chat",
        "body": {"model": "m", "messages": []},
    },
}


def test_a_fetch_op_asks_for_its_request() -> None:
    request = gateway.request_of(FETCH)
    assert isinstance(request, gateway.Request)
    assert (request.method, request.url, request.headers, request.body) == (
        "POST",
        "http://example.test/x",
        {"a": "b"},
        b"hi",
    )


def test_an_inference_posts_its_body_with_the_providers_auth_header() -> None:
    request = gateway.request_of(INFER)
    assert isinstance(request, gateway.Request)
    assert request.method == "POST"
    assert request.headers["Authorization"] == "Bearer sk-1"
    assert orjson.loads(request.body or b"") == {"model": "m", "messages": []}
    anthropic = {**INFER, "opts": {**INFER["opts"], "format": "anthropic"}}
    request = gateway.request_of(anthropic)
    assert isinstance(request, gateway.Request)
    assert request.headers["X-Api-Key"] == "sk-1" and "Authorization" not in request.headers


def test_an_inference_spells_header_names_as_inngests_gateway_does() -> None:
    # inngest-py's ai_infer tests read the provider's headers case-sensitively.
    opts = {**INFER["opts"], "format": "anthropic", "headers": {"x-my-header": "v"}}
    request = gateway.request_of({**INFER, "opts": opts})
    assert isinstance(request, gateway.Request)
    assert request.headers == {
        "Content-Type": "application/json",
        "X-My-Header": "v",
        "X-Api-Key": "sk-1",
    }


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://h/x", "http://", 7])
def test_only_http_urls_are_called(url: object) -> None:
    refused = gateway.request_of({**FETCH, "opts": {"url": url}})
    assert isinstance(refused, str) and repr(url) in refused and "http(s)" in refused
    op = gateway.resolved(FETCH, refused, None)
    assert op["op"] == Op.STEP_FAILED and op["error"]["name"] == "GatewayError"


def test_a_fetch_response_is_the_steps_data_whatever_its_status() -> None:
    request = gateway.request_of(FETCH)
    assert isinstance(request, gateway.Request)
    response = gateway.Response(status=404, headers={"x": "y"}, body=b"nope")
    op = gateway.resolved(FETCH, request, response)
    assert op == {
        "id": "g1",
        "displayName": "step.fetch: example.test",
        "op": Op.STEP_RUN,
        "data": {"status_code": 404, "headers": {"x": "y"}, "body": "nope"},
    }


def test_a_call_without_a_response_is_a_step_error_that_is_retried() -> None:
    request = gateway.request_of(FETCH)
    assert isinstance(request, gateway.Request)
    op = gateway.resolved(FETCH, request, gateway.Response(error="no response within 60s"))
    outcome = interpret(
        replace(call(), gateway={"g1": op}),
        reply(206, [FETCH]),
        now=NOW,
        jitter=0.0,
        retry=FIXED,
        limits=LIMITS,
    )
    assert outcome.retry_at is not None
    assert "no response within 60s" in (outcome.attempt.error or "")


def test_an_inference_answer_is_parsed_json_and_a_refusal_is_an_error() -> None:
    request = gateway.request_of(INFER)
    assert isinstance(request, gateway.Request)
    ok = gateway.resolved(INFER, request, gateway.Response(status=200, body=b'{"choices": []}'))
    assert ok["op"] == Op.STEP_RUN and ok["data"] == {"choices": []}
    refused = gateway.resolved(INFER, request, gateway.Response(status=401, body=b"bad key"))
    assert refused["op"] == Op.STEP_ERROR and "HTTP 401" in refused["error"]["message"]


def test_the_machine_memoises_what_the_gateway_got() -> None:
    request = gateway.request_of(FETCH)
    assert isinstance(request, gateway.Request)
    op = gateway.resolved(FETCH, request, gateway.Response(status=200, body=b"hello"))
    outcome = run(replace(call(), gateway={"g1": op}), FETCH)
    (memo,) = outcome.memos
    assert memo.value == {"data": {"status_code": 200, "headers": {}, "body": "hello"}}


def test_gateway_ops_are_read_only_from_a_trusted_206() -> None:
    assert gateway.gateway_ops(reply(206, [STEP, FETCH]), ()) == [FETCH]
    assert gateway.gateway_ops(reply(200, [FETCH]), ()) == []
    assert gateway.gateway_ops(reply(206, [FETCH]), ("signkey",)) == []  # unsigned


YEAR = 365 * 86400


@pytest.mark.parametrize(
    ("op", "ok"),
    [
        ({"id": "s", "op": "Sleep", "name": "365d"}, True),
        ({"id": "s", "op": "Sleep", "name": "366d"}, False),
        ({"id": "w", "op": "WaitForEvent", "opts": {"event": "a/b", "timeout": "365d"}}, True),
        ({"id": "w", "op": "WaitForEvent", "opts": {"event": "a/b", "timeout": "400d"}}, False),
    ],
)
def test_sleeps_and_waits_over_a_year_fail_the_run_naming_the_limit(
    op: dict[str, Any], ok: bool
) -> None:
    outcome = run(call(), op)
    if ok:
        assert outcome.finish is None
        assert max(i.due_at for i in outcome.enqueue) == NOW + YEAR
    else:
        assert outcome.finish is not None and outcome.finish.status is RunStatus.FAILED
        assert "maximum of one year" in (outcome.attempt.error or "")


def test_an_invoke_carries_the_payloads_meta_to_the_child_event() -> None:
    op = {
        "id": "i",
        "op": "InvokeFunction",
        "opts": {
            "function_id": "app-child",
            "payload": {"data": {"n": 1}, "meta": {"propagated_sessions": [{"id": "s"}]}},
        },
    }
    c = replace(call(), exists=lambda slug: True)
    (event,) = run(c, op).events
    assert event.meta == {"propagated_sessions": [{"id": "s"}]}


def test_metadata_riding_on_a_step_opcode_becomes_store_updates() -> None:
    op = {
        **STEP,
        "metadata": [
            {"kind": "userland.progress", "scope": "step", "op": "merge", "values": {"p": 1}},
            {"kind": "userland.run", "scope": "run", "op": "set", "values": {"r": 2}},
            {"kind": "", "scope": "step", "op": "merge", "values": {}},  # malformed: left out
        ],
    }
    updates = step_metadata.updates_in(reply(206, [op]), ())
    assert updates == [
        MetadataUpdate("userland.progress", "merge", {"p": 1}, "s1"),
        MetadataUpdate("userland.run", "set", {"r": 2}, ""),
    ]
    assert step_metadata.updates_in(reply(206, [op]), ("signkey",)) == []  # unsigned
    assert step_metadata.updates_in(reply(206, [STEP]), ()) == []
