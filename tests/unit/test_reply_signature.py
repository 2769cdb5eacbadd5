"""In ``inlet start`` an app's reply counts only if an SDK holding the signing key signed it.

The official Python SDK signs its reply with the key that verified the request: HMAC-SHA256
over the body bytes it sends, then the timestamp (``inngest._internal.net.sign_response``).
These tests sign with the SDK's own function, so a drift in the SDK shows here.
"""

from __future__ import annotations

import orjson
from inngest._internal import net as sdk_net

from inlet.model import Event, Function, ItemKind, Outcome, QueueItem, Run, RunState, RunStatus
from inlet.steps.backoff import RetryPolicy
from inlet.steps.machine import Call, Limits, Reply, interpret

NOW = 1_800_000_000.0
PRIMARY = "signkey-prod-" + "1f" * 32
FALLBACK = "signkey-prod-" + "2e" * 32
STRANGER = "signkey-prod-" + "3d" * 32
SDK = {"x-inngest-sdk": "inngest-py:v0.5.19", "x-inngest-req-version": "1"}


def call(keys: tuple[str, ...], attempt: int = 0) -> Call:
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
        id="I", run_id="R", kind=ItemKind.DISCOVERY, step_id="step", due_at=NOW, attempt=attempt
    )
    event = Event(internal_id="E", name="app/x", data={}, id="E", ts=1)
    return Call(
        item=item,
        state=RunState(run=run, events=(event,), memos=()),
        function=fn,
        started_at=NOW,
        response_keys=keys,
    )


def signed(status: int, value: object, key: str | None, **extra: str) -> Reply:
    body = orjson.dumps(value)
    headers = {**SDK, **extra}
    if key is not None:
        signature = sdk_net.sign_response(body, key)
        assert isinstance(signature, str)
        headers["x-inngest-signature"] = signature
    return Reply(status=status, headers=headers, body=body)


def interpret_at(c: Call, r: Reply) -> Outcome:
    return interpret(
        c,
        r,
        now=NOW,
        jitter=0.0,
        retry=RetryPolicy(5.0),
        limits=Limits(max_step_output_bytes=1000, max_state_bytes=5000, max_steps=10),
    )


def test_a_reply_signed_by_the_sdk_with_the_primary_key_completes_the_run() -> None:
    out = interpret_at(call((PRIMARY, FALLBACK)), signed(200, {"ok": 1}, PRIMARY))

    assert out.finish is not None and out.finish.output == {"ok": 1}


def test_a_reply_signed_with_the_fallback_key_is_accepted_during_a_rotation() -> None:
    out = interpret_at(call((PRIMARY, FALLBACK)), signed(200, {"ok": 1}, FALLBACK))

    assert out.finish is not None


def test_an_unsigned_reply_is_a_failed_attempt_that_is_retried_and_never_memoised() -> None:
    ops = [{"id": "s1", "op": "StepRun", "name": "s1", "data": "forged"}]

    out = interpret_at(call((PRIMARY,)), signed(206, ops, None))

    assert out.finish is None and out.retry_at == NOW + 5.0
    assert out.memos == () and out.enqueue == ()
    assert out.attempt.outcome == "retry"
    assert "no X-Inngest-Signature header" in (out.attempt.error or "")


def test_a_reply_signed_with_another_key_names_the_likely_cause() -> None:
    out = interpret_at(call((PRIMARY, FALLBACK)), signed(200, {"ok": 1}, STRANGER))

    assert out.finish is None
    error = out.attempt.error or ""
    assert "no configured signing key produces" in error
    assert "INNGEST_SIGNING_KEY" in error
    assert PRIMARY.removeprefix("signkey-prod-") not in error


def test_a_signature_over_other_bytes_fails_as_an_altered_response() -> None:
    good = signed(200, {"ok": 1}, PRIMARY)
    altered = Reply(status=200, headers=good.headers, body=b'{"ok":2}')

    out = interpret_at(call((PRIMARY,)), altered)

    assert "altered" in (out.attempt.error or "")


def test_an_unverified_reply_cannot_stop_retries_or_pick_the_retry_time() -> None:
    forged = signed(500, {"message": "x"}, None, **{"x-inngest-no-retry": "true"})

    out = interpret_at(call((PRIMARY,)), forged)

    assert out.finish is None and out.retry_at == NOW + 5.0


def test_the_last_attempt_of_an_unsigned_reply_fails_the_run_with_the_reason() -> None:
    out = interpret_at(call((PRIMARY,), attempt=2), signed(200, {"ok": 1}, None))

    assert out.finish is not None
    assert "X-Inngest-Signature" in (out.attempt.error or "")


def test_without_keys_inlet_dev_checks_no_signature() -> None:
    out = interpret_at(call(()), signed(200, {"ok": 1}, None))

    assert out.finish is not None
