"""An app's reply to a call request, as the executor's state machine reads it: the
stream envelope unwrapped, the body decoded, the signature checked (docs/protocol.md §4.2,
§5). Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from inlet.model import JSON
from inlet.protocol.signing import verify

ERROR_EXCERPT = 300


@dataclass(frozen=True, slots=True)
class Reply:
    """What came back from one call request. ``status`` 0: no HTTP response at all."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    """Lower-cased names."""
    body: bytes = b""
    error: str | None = None
    """Why there is no response (connection refused, timeout...)."""
    worked_out: dict[object, Any] = field(default_factory=dict, compare=False, repr=False)
    """What has been read from this reply (its signature checked, its stream unwrapped, its
    opcodes decoded), kept so that the step machine, the gateway and step metadata,
    which all read a 206 reply, check and decode it once between them."""

    @property
    def sdk(self) -> str | None:
        return self.headers.get("x-inngest-sdk")

    @property
    def no_retry(self) -> bool:
        return self.headers.get("x-inngest-no-retry", "").strip().lower() == "true"


def signature_problem(reply: Reply, keys: tuple[str, ...]) -> str | None:
    """Why ``reply`` is not signed by an SDK holding one of ``keys``, or ``None``.

    An SDK signs its reply with the key that verified the request: HMAC-SHA256 over the
    body bytes as sent, then the header's ``t`` (docs/protocol.md §4.2). A streamed reply
    (201) is signed before its body exists, so it cannot be checked.
    """
    if not keys or reply.error is not None or reply.status == 201:
        return None
    key = ("signature", keys)
    if key not in reply.worked_out:
        reply.worked_out[key] = _signature_problem(reply, keys)
    problem: str | None = reply.worked_out[key]
    return problem


def _signature_problem(reply: Reply, keys: tuple[str, ...]) -> str | None:
    header = reply.headers.get("x-inngest-signature")
    what = f"the app's response (HTTP {reply.status})"
    if not header:
        return (
            f"{what} has no X-Inngest-Signature header, and inlet start trusts only signed "
            "responses: it came from something other than an SDK holding this server's "
            "signing key (a proxy, or an app without INNGEST_SIGNING_KEY). "
            f"Body: {excerpt(reply.body)}"
        )
    if not verify(header, reply.body, keys, 0.0, max_skew=None):
        return (
            f"{what} has an X-Inngest-Signature that no configured signing key produces: "
            "the app holds another key (give it the server's as INNGEST_SIGNING_KEY) or "
            "the response was altered on the way"
        )
    return None


def unwrap_stream(reply: Reply) -> Reply:
    """A streamed answer is 201 + keep-alive spaces + ``{status, headers, body}`` (§5.7)."""
    if reply.status != 201 or reply.error is not None:
        return reply
    if "unwrapped" not in reply.worked_out:
        reply.worked_out["unwrapped"] = _unwrap_stream(reply)
    unwrapped: Reply = reply.worked_out["unwrapped"]
    return unwrapped


def _unwrap_stream(reply: Reply) -> Reply:
    try:
        envelope = orjson.loads(reply.body.lstrip())
    except orjson.JSONDecodeError:
        return reply
    if not isinstance(envelope, dict) or "status" not in envelope:
        return reply
    headers = dict(reply.headers)
    for k, v in (envelope.get("headers") or {}).items():
        headers[str(k).lower()] = str(v)
    body = envelope.get("body")
    raw = body.encode() if isinstance(body, str) else orjson.dumps(body)
    return Reply(status=int(envelope["status"]), headers=headers, body=raw)


def decode_output(body: bytes) -> JSON:
    if not body.strip():
        return None
    value = orjson.loads(body)
    if isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def decode_ops(body: bytes) -> list[dict[str, Any]]:
    value = orjson.loads(body) if body.strip() else []
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(op, dict) for op in value):
        raise ValueError("expected an array of opcode objects")
    return value


def ops_of(reply: Reply) -> list[dict[str, Any]]:
    """``decode_ops`` of the reply's body, decoded on the first call only (the list is
    shared: readers must not change it). Raises as ``decode_ops`` does, every time."""
    if "ops" not in reply.worked_out:
        try:
            reply.worked_out["ops"] = decode_ops(reply.body)
        except (orjson.JSONDecodeError, ValueError) as exc:
            reply.worked_out["ops"] = exc
    found: list[dict[str, Any]] | Exception = reply.worked_out["ops"]
    if isinstance(found, Exception):
        raise found
    return found


def try_json(body: bytes) -> JSON:
    try:
        return orjson.loads(body) if body.strip() else None
    except orjson.JSONDecodeError:
        return None


def excerpt(body: bytes) -> str:
    text = body[:ERROR_EXCERPT].decode("utf-8", "replace")
    return repr(text) + ("..." if len(body) > ERROR_EXCERPT else "")


def trusted_ops(reply: Reply, keys: tuple[str, ...]) -> list[dict[str, Any]]:
    """The opcodes of a 206 reply the server may act on beside the step machine (metadata,
    gateway calls): none from a reply that is not trusted (unsigned where ``keys`` are set),
    not an SDK's, or not a list of opcodes."""
    if signature_problem(reply, keys) is not None:
        return []
    reply = unwrap_stream(reply)
    if reply.status != 206 or reply.error is not None or reply.sdk is None:
        return []
    try:
        return ops_of(reply)
    except (orjson.JSONDecodeError, ValueError):
        return []
