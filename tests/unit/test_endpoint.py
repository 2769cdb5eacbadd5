"""Durable endpoints, the pure parts: what a report records (``inlet.steps.endpoint``),
where the server calls an endpoint back, the response its output answers, run tokens,
and the stream broker's channels (``inlet.api.streams``)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from inlet.api.streams import Broker, stream_channel, stream_token
from inlet.errors import BadRequest
from inlet.model import Event, Function, RunStatus
from inlet.steps.endpoint import (
    call_url,
    parse_new_run,
    parse_steps,
    reply_of,
    run_token,
    token_valid,
)

NOW = 1_800_000_000.0


def body(**data: Any) -> dict[str, Any]:
    fields = {"domain": "http://127.0.0.1:3000", "method": "POST", "path": "/api/go", **data}
    return {"run_id": "01RUN", "event": {"name": "http/run.started", "data": fields}}


def op(kind: str, name: str, **extra: Any) -> dict[str, Any]:
    return {"id": f"{name:0>40}", "op": kind, "name": name, **extra}


def test_an_unnamed_endpoint_is_named_method_path_and_its_slug_holds_the_whole_url() -> None:
    new = parse_new_run(body(), now=NOW, internal_id="01EVT", max_step_output_bytes=1000)
    assert new.function.name == "POST /api/go"
    assert new.function.slug == "POST http://127.0.0.1:3000/api/go"
    assert new.function.url == new.app.url == "http://127.0.0.1:3000/api/go"
    assert new.event.internal_id == "01EVT" and new.event.name == "http/run.started"


def test_an_endpoint_the_sdk_names_keeps_that_name() -> None:
    new = parse_new_run(body(fn="my-app-greet"), now=NOW, internal_id="e", max_step_output_bytes=9)
    assert new.function.slug == new.function.name == "my-app-greet"


def test_a_run_complete_ends_the_run_with_the_response() -> None:
    response = {"status": 201, "headers": {}, "body": '"hi"'}
    report = parse_steps(
        "01RUN",
        {"steps": [op("StepRun", "a", data=1), op("RunComplete", "done", data=response)]},
        now=NOW,
        max_step_output_bytes=1000,
    )
    assert [s.memo.value for s in report.steps] == [{"data": 1}]
    assert report.finish is not None and report.finish.status is RunStatus.COMPLETED
    assert report.finish.output == response
    assert not report.wake and report.retry is None


def test_a_sleep_wakes_the_run_and_a_failed_step_is_a_retry_naming_the_error() -> None:
    slept = parse_steps("r", {"steps": [op("Sleep", "nap")]}, now=NOW, max_step_output_bytes=9)
    assert slept.wake and slept.retry is None and slept.steps == ()
    error = {"name": "Error", "message": "boom"}
    failed = parse_steps(
        "r", {"steps": [op("StepError", "a", error=error)]}, now=NOW, max_step_output_bytes=9
    )
    assert failed.wake and failed.retry == "a: Error: boom"


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ({"event": body()["event"]}, "run_id"),
        ({"run_id": "r", "event": None}, "event"),
        ({"run_id": "r", "event": {"data": {"domain": "localhost:3000"}}}, "domain"),
    ],
)
def test_a_body_that_is_not_a_new_run_is_refused_naming_the_field(
    raw: dict[str, Any], named: str
) -> None:
    with pytest.raises(BadRequest, match=named):
        parse_new_run(raw, now=NOW, internal_id="e", max_step_output_bytes=9)


def test_a_report_for_another_run_is_refused() -> None:
    with pytest.raises(BadRequest, match="not the run in the path"):
        parse_steps("01A", {"run_id": "01B", "steps": []}, now=NOW, max_step_output_bytes=9)


def test_an_endpoint_is_called_back_with_the_query_of_its_request() -> None:
    new = parse_new_run(body(), now=NOW, internal_id="e", max_step_output_bytes=9)
    started = Event("e", "http/run.started", {"query_params": "who=ada&fnId=x"}, "e", 0)
    url = "http://127.0.0.1:3000/api/go?fnId=f&stepId=step"
    called = call_url(url, new.function, [started])
    assert called == "http://127.0.0.1:3000/api/go?fnId=f&stepId=step&who=ada"
    plain = Function("app-f", "http://a", "f", "http://a/api?fnId=f", ())
    assert call_url(url, plain, [started]) == url


def test_the_output_is_the_endpoints_response_or_else_json() -> None:
    reply = reply_of({"status": 418, "headers": {"x-a": "1"}, "body": "teapot", "version": 2})
    assert (reply.status, reply.headers, reply.body) == (418, {"x-a": "1"}, b"teapot")
    assert reply_of({"answer": 42}).body == b'{"answer":42}'
    assert reply_of(None).status == 200


def test_a_token_opens_its_own_run_only() -> None:
    token = run_token("secret", "01A")
    assert token_valid("secret", "01A", token)
    assert not token_valid("secret", "01B", token)
    assert not token_valid("other", "01A", token)
    assert stream_channel("secret", stream_token("secret", "01A")) == "01A"
    assert stream_channel("secret", "01A." + "0" * 64) is None
    # A token with characters no token has is refused, not an error.
    assert not token_valid("secret", "01A", "é")
    assert stream_channel("secret", "01A.é") is None


async def test_a_late_reader_gets_what_was_posted_then_what_comes() -> None:
    broker = Broker()
    broker.publish("01A", b"one", 0.0)
    broker.publish("01B", b"other run", 0.0)
    reader = broker.follow("01A", time.monotonic() + 30)
    assert await anext(reader) == b":\n\n"  # the stream opens at once
    assert await anext(reader) == b"one"
    later = asyncio.ensure_future(anext(reader))
    await asyncio.sleep(0)
    broker.publish("01A", b"two", 1.0)
    assert await asyncio.wait_for(later, 5.0) == b"two"
    await reader.aclose()
