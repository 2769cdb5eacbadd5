"""The labels of ``inlet.metrics``: a failed call's kind from what the machine and the
transport say, and a skip record's reason as one of a few values."""

from __future__ import annotations

import orjson
import pytest
from inngest._internal import net as sdk_net

from inlet.metrics import call_error_kind, skip_reason
from inlet.model import Event, Function, ItemKind, QueueItem, Run, RunState, RunStatus
from inlet.steps.backoff import RetryPolicy
from inlet.steps.machine import Call, Limits, Reply, interpret

NOW = 1_800_000_000.0
PRIMARY = "signkey-prod-" + "1f" * 32
STRANGER = "signkey-prod-" + "3d" * 32
SDK = {"x-inngest-sdk": "inngest-py:v0.5.19", "x-inngest-req-version": "1"}


def call(keys: tuple[str, ...]) -> Call:
    run = Run("R", "app-fn", ("E",), RunStatus.RUNNING, created_at=NOW)
    url = "http://a/api/inngest?fnId=app-fn&stepId=step"
    fn = Function(slug="app-fn", app_url="http://a", name="fn", url=url, triggers=(), retries=2)
    item = QueueItem(id="I", run_id="R", kind=ItemKind.DISCOVERY, step_id="step", due_at=NOW)
    event = Event(internal_id="E", name="app/x", data={}, id="E", ts=1)
    state = RunState(run=run, events=(event,), memos=())
    return Call(item=item, state=state, function=fn, started_at=NOW, response_keys=keys)


def signed(status: int, value: object, key: str | None) -> Reply:
    """A reply as the official SDK signs it (its own function)."""
    body = orjson.dumps(value)
    headers = dict(SDK)
    if key is not None:
        signature = sdk_net.sign_response(body, key)
        assert isinstance(signature, str)
        headers["x-inngest-signature"] = signature
    return Reply(status=status, headers=headers, body=body)


LIMITS = Limits(max_step_output_bytes=4_000_000, max_state_bytes=32_000_000, max_steps=1000)


def kind_of(reply: Reply, keys: tuple[str, ...] = ()) -> str | None:
    """The kind the worker records for ``reply``: from the machine's attempt."""
    outcome = interpret(
        call(keys), reply, now=NOW, jitter=0.0, retry=RetryPolicy(1.0), limits=LIMITS
    )
    attempt = outcome.attempt
    assert attempt.outcome in ("retry", "failed"), attempt
    return call_error_kind(reply.status, reply.error, reply.sdk is not None, attempt.error or "")


def test_a_reply_signed_with_another_key_is_a_signature_error() -> None:
    assert kind_of(signed(200, "ok", STRANGER), keys=(PRIMARY,)) == "signature"
    assert kind_of(signed(200, "ok", None), keys=(PRIMARY,)) == "signature"


def test_an_answer_without_the_sdk_header_is_not_sdk() -> None:
    assert kind_of(Reply(status=200, body=b"<html>proxy</html>")) == "not_sdk"
    assert kind_of(Reply(status=502, body=b"bad gateway")) == "not_sdk"


def test_an_sdk_error_status_gives_its_class() -> None:
    body = orjson.dumps({"name": "Error", "message": "boom"})
    assert kind_of(Reply(status=500, headers=SDK, body=body)) == "http_5xx"
    assert kind_of(Reply(status=400, headers=SDK, body=body)) == "http_4xx"


def test_no_response_is_a_timeout_or_a_connection_error() -> None:
    assert kind_of(Reply(status=0, error="no response from http://a within 30s")) == "timeout"
    refused = "request to http://a failed: [Errno 111] Connection refused"
    assert kind_of(Reply(status=0, error=refused)) == "connection"


def test_a_2xx_answer_is_never_a_call_error() -> None:
    assert call_error_kind(206, None, True, "step 'x' failed: boom") is None


@pytest.mark.parametrize(
    ("reason", "label"),
    [
        ("function paused", "paused"),
        ("an event with the same id started run 01R within 24h", "duplicate_event"),
        ("idempotency key already used by another run within 24h; key k", "idempotency"),
        ("rate limited: at most 1 run per 1h; rate limit key k", "rate_limit"),
        ("debounced: run 01R holds a newer event", "debounce"),
        ("singleton: run 01R is still active for this key (mode skip)", "singleton"),
        ("the trigger's expression was not true: event.data.go == true", "expression"),
        ("something new", "other"),
    ],
)
def test_skip_reasons_become_a_few_labels_without_their_keys(reason: str, label: str) -> None:
    assert skip_reason(reason) == label
