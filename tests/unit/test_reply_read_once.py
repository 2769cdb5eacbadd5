"""A 206 reply is read by three parties: the step machine (``interpret``), the gateway
(``gateway_ops``) and step metadata (``updates_in``). Its signature is checked and its body
decoded once between them: the reply keeps what was read from it."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from test_reply_signature import NOW, PRIMARY, call, signed

from inlet.executor import step_metadata
from inlet.protocol import signing
from inlet.steps import gateway
from inlet.steps import reply as reply_module
from inlet.steps.backoff import RetryPolicy
from inlet.steps.machine import Limits, Reply, interpret

OPS = [
    {
        "op": "StepRun",
        "id": "s1",
        "name": "s1",
        "data": {"n": 1},
        "metadata": [{"kind": "userland.k", "op": "set", "values": {"a": 1}}],
    }
]


class Counted:
    """Wraps a function and counts its calls."""

    def __init__(self, wrapped: Any) -> None:
        self.wrapped = wrapped
        self.calls = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self.wrapped(*args, **kwargs)


def read_by_all(reply: Reply, keys: tuple[str, ...]) -> None:
    outcome = interpret(
        call(keys),
        reply,
        now=NOW,
        jitter=0.0,
        retry=RetryPolicy(5.0),
        limits=Limits(max_step_output_bytes=1000, max_state_bytes=5000, max_steps=10),
    )
    assert [memo.step_id for memo in outcome.memos] == ["s1"]
    assert gateway.gateway_ops(reply, keys) == []
    assert [u.kind for u in step_metadata.updates_in(reply, keys)] == ["userland.k"]


@pytest.mark.parametrize("keys", [(), (PRIMARY,)], ids=["dev", "start"])
def test_a_206_reply_is_decoded_once_by_the_machine_the_gateway_and_metadata(
    monkeypatch: pytest.MonkeyPatch, keys: tuple[str, ...]
) -> None:
    loads = Counted(orjson.loads)
    verify = Counted(signing.verify)
    monkeypatch.setattr(orjson, "loads", loads)
    monkeypatch.setattr("inlet.steps.reply.verify", verify)
    reply = signed(206, OPS, PRIMARY)
    read_by_all(reply, keys)
    assert loads.calls == 1
    assert verify.calls == (1 if keys else 0)


def test_a_streamed_206_reply_is_unwrapped_and_decoded_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    envelope = {"status": 206, "headers": {}, "body": orjson.dumps(OPS).decode()}
    reply = Reply(
        status=201,
        headers={"x-inngest-sdk": "inngest-js:v3.0.0"},
        body=b"  " + orjson.dumps(envelope),
    )
    loads = Counted(orjson.loads)
    monkeypatch.setattr(orjson, "loads", loads)
    read_by_all(reply, ())
    assert loads.calls == 2  # the envelope, then the opcodes in its body


def test_each_reply_is_decoded_on_its_own() -> None:
    first, second = signed(206, OPS, None), signed(206, [], None)
    assert reply_module.ops_of(first) == OPS
    assert reply_module.ops_of(second) == []


def test_opcodes_that_cannot_be_read_fail_every_reader_alike() -> None:
    reply = Reply(status=206, headers={"x-inngest-sdk": "inngest-py:v0.5.19"}, body=b"{nope")
    for _ in range(2):
        with pytest.raises(orjson.JSONDecodeError):
            reply_module.ops_of(reply)
    assert reply_module.trusted_ops(reply, ()) == []
