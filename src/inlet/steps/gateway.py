"""``step.fetch`` (``Gateway``) and ``step.ai.infer`` (``AIGateway``): the HTTP call an
opcode asks the server to make, and the opcode its result stands for (docs/protocol.md
§6.5). Pure: ``executor/gateway.py`` makes the call.

The server, not the app, makes these requests, from the server's own network position:
an app on a laptop can reach through Inlet whatever Inlet can reach. Only ``http`` and
``https`` URLs are called, the response is cut off at ``MAX_RESPONSE_BYTES`` and waited for
at most ``TIMEOUT`` seconds.

What the SDK reads back is the step's memo. For ``step.fetch`` it is ``{status_code,
headers, body}`` with the body as text, whatever the status (a 404 is a response, as with
``fetch``); for ``step.ai.infer`` the provider's JSON answer as parsed. A call that got no
response (refused, too slow, too large), or an inference that did not answer 2xx with
JSON, is the step's error: retried as a ``StepError`` while the function has attempts left.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import orjson

from inlet.model import JSON
from inlet.steps.ops import GATEWAYS, Op
from inlet.steps.reply import Reply, trusted_ops

TIMEOUT = 60.0
"""Seconds a gateway call may take, connection included."""
MAX_RESPONSE_BYTES = 4 * 1024 * 1024
"""The response body cap: Inngest's limit on a step's output."""
_EXCERPT = 300


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP call an opcode asks for."""

    step_id: str
    name: str
    op: Op
    url: str
    method: str
    headers: dict[str, str]
    body: bytes | None


@dataclass(frozen=True, slots=True)
class Response:
    """What the call got: a response, or ``error`` saying why there is none."""

    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    error: str | None = None


def gateway_ops(reply: Reply, keys: tuple[str, ...]) -> list[dict[str, Any]]:
    """The ``Gateway`` and ``AIGateway`` opcodes of a 206 reply, whose calls the server is
    to make; none from a reply that is not trusted (unsigned where ``keys`` are set)."""
    return [op for op in trusted_ops(reply, keys) if op.get("op") in GATEWAYS]


def request_of(op: dict[str, Any]) -> Request | str:
    """The call ``op`` asks for, or why it cannot be made (a sentence for the step's
    error)."""
    kind = Op(str(op.get("op")))
    step_id = str(op.get("id") or "")
    name = str(op.get("displayName") or op.get("name") or step_id)
    opts = op.get("opts")
    if not isinstance(opts, dict):
        return f"{kind} step {name!r} has no opts object to say what to call"
    url = opts.get("url")
    if not isinstance(url, str) or not _http_url(url):
        return (
            f"{kind} step {name!r}: {url!r} is not an http(s) URL; the server calls only "
            "http:// and https:// addresses"
        )
    headers = {str(k): str(v) for k, v in (opts.get("headers") or {}).items()}
    if kind is Op.AI_GATEWAY:
        return Request(
            step_id,
            name,
            kind,
            url,
            "POST",
            _ai_headers(opts, headers),
            orjson.dumps(opts.get("body")),
        )
    method = str(opts.get("method") or "GET").upper()
    raw = opts.get("body")
    body = None if raw is None else (raw if isinstance(raw, str) else orjson.dumps(raw).decode())
    return Request(
        step_id, name, kind, url, method, headers, None if body is None else body.encode()
    )


def resolved(
    op: dict[str, Any], outcome: Request | str, response: Response | None
) -> dict[str, Any]:
    """The opcode ``op`` stands for once its call is made: a ``StepRun`` with the memo the
    SDK reads, or a ``StepError`` with why there is none."""
    base: dict[str, Any] = {k: op.get(k) for k in ("id", "name", "displayName") if k in op}
    if isinstance(outcome, str):
        return {**base, "op": Op.STEP_FAILED, "error": _error(outcome)}
    if response is None or response.error is not None:
        reason = response.error if response is not None else "the call was not made"
        return {**base, "op": Op.STEP_ERROR, "error": _error(f"{outcome.url}: {reason}")}
    if outcome.op is Op.GATEWAY:
        data: JSON = {
            "status_code": response.status,
            "headers": dict(response.headers),
            "body": response.body.decode("utf-8", "replace"),
        }
        return {**base, "op": Op.STEP_RUN, "data": data}
    if not 200 <= response.status < 300:
        text = response.body[:_EXCERPT].decode("utf-8", "replace")
        return {
            **base,
            "op": Op.STEP_ERROR,
            "error": _error(f"{outcome.url} answered HTTP {response.status}: {text}"),
        }
    try:
        parsed: JSON = orjson.loads(response.body)
    except orjson.JSONDecodeError:
        text = response.body[:_EXCERPT].decode("utf-8", "replace")
        return {
            **base,
            "op": Op.STEP_ERROR,
            "error": _error(f"{outcome.url} answered with a body that is not JSON: {text!r}"),
        }
    return {**base, "op": Op.STEP_RUN, "data": parsed}


def _ai_headers(opts: dict[str, Any], headers: dict[str, str]) -> dict[str, str]:
    """The provider's auth header for ``auth_key``: Anthropic's ``X-Api-Key``, none for
    Gemini (the key is in its URL) or Azure (its ``Api-Key`` header is already set), a
    bearer token for the OpenAI-compatible rest. Names are spelled as Inngest's gateway
    sends them (``X-Api-Key``): case-insensitive in HTTP, but not to every test double."""
    out = {"Content-Type": "application/json", **{_canonical(k): v for k, v in headers.items()}}
    key = opts.get("auth_key")
    fmt = opts.get("format")
    if not isinstance(key, str) or not key or "Authorization" in out:
        return out
    if fmt == "anthropic":
        out.setdefault("X-Api-Key", key)
    elif fmt not in ("gemini", "azure-openai"):
        out["Authorization"] = f"Bearer {key}"
    return out


def _canonical(name: str) -> str:
    """``x-api-key`` as ``X-Api-Key``: each hyphenated part capitalised."""
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def _http_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _error(message: str) -> dict[str, JSON]:
    return {"name": "GatewayError", "message": message}
