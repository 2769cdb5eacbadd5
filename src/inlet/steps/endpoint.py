"""Durable endpoints of the TypeScript SDK v4 (docs/protocol.md, "Durable endpoints").

A durable endpoint is a function run inside an app's own HTTP handler: the SDK makes the
run id, runs the steps in the request and reports them, first to ``POST /v1/checkpoint``
(which creates the run, with the steps it ran so far) then to
``POST /v1/checkpoint/{run_id}/steps``. A ``RunComplete`` among them ends the run with its
output. Any other opcode (a sleep, a wait, a step that failed and is to be retried) means
the SDK went async: it answered its client with a redirect, and the server carries the run
on by calling the endpoint's URL like any function (the SDK replays from the recorded
steps, read through ``/v0/runs/{run_id}/actions``).

Pure: the request bodies in, what to record out, or the error that refuses them. The
function is named as the SDK names it (``event.data.fn``), or ``METHOD path`` when it gives
no name, as the Inngest dev server does (its slug is then ``METHOD url``: slugs are global
in Inlet); its app is the endpoint's URL.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import orjson

from inlet.errors import BadRequest
from inlet.model import JSON, App, Event, Finish, Function, RunStatus
from inlet.steps.checkpoint import Step, step_of
from inlet.steps.ops import LAZY, STEP_DONE, Op

EVENT_NAME = "http/run.started"
"""The event a durable endpoint's run is started by (``internalEvents.HttpRequest``)."""

MAX_RETRIES = 20
"""Inngest's ceiling on a function's retries."""

ENDPOINT_ITEM = "endpoint"
"""The ``item_id`` of the history rows of steps run inside the endpoint's own request."""


@dataclass(frozen=True, slots=True)
class Report:
    """Steps reported by an endpoint: the ones to record, how the run ends if it does, and
    whether it went async (the server calls the endpoint to carry it on)."""

    steps: tuple[Step, ...]
    finish: Finish | None
    wake: bool
    retry: str | None = None
    """Why a step failed, when that is why the endpoint went async: the request made the
    step's first attempt, so the first call the server makes is its second."""


@dataclass(frozen=True, slots=True)
class NewEndpointRun:
    run_id: str
    app: App
    function: Function
    event: Event
    report: Report


def parse_new_run(
    body: dict[str, Any], *, now: float, internal_id: str, max_step_output_bytes: int
) -> NewEndpointRun:
    """The run ``POST /v1/checkpoint`` asks for. Raises ``BadRequest`` naming the field."""
    run_id = body.get("run_id")
    if not isinstance(run_id, str) or not run_id:
        raise BadRequest(
            f"run_id={run_id!r} is not a run id; send the ULID the SDK made for this request"
        )
    wire = body.get("event")
    if not isinstance(wire, dict) or not isinstance(wire.get("data"), dict):
        raise BadRequest(
            f"event={_short(wire)} is not an event with a data object; send the "
            f"{EVENT_NAME} event the SDK made from the HTTP request"
        )
    data: dict[str, JSON] = wire["data"]
    domain = str(data.get("domain") or "")
    parts = urlsplit(domain)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise BadRequest(
            f"event.data.domain={domain!r} is not an http(s) origin; it names where the "
            "server calls the endpoint back (e.g. http://localhost:3000)"
        )
    path = str(data.get("path") or "/")
    method = str(data.get("method") or "POST")
    url = domain + path
    named = str(data.get("fn") or "")
    # Function slugs are global in Inlet (in Inngest they are per app): an unnamed endpoint
    # is told apart by its whole URL.
    slug = named or f"{method} {url}"
    name = named or f"{method} {path}"
    retries = body.get("retries")
    if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
        retries = 4
    retries = min(retries, MAX_RETRIES)
    function = Function(
        slug=slug,
        app_url=url,
        name=name,
        url=url,
        triggers=(),
        retries=retries,
        config={"durable_endpoint": {"method": method, "path": path}},
    )
    shape = orjson.dumps([slug, name, url, retries, function.config])
    app = App(
        url=url,
        app_id=slug,
        sdk="js",
        framework="durable-endpoint",
        checksum=hashlib.sha256(shape).hexdigest(),
        synced_at=now,
    )
    ts = wire.get("ts")
    event = Event(
        internal_id=internal_id,
        name=str(wire.get("name") or EVENT_NAME),
        data=data,
        id=str(wire.get("id") or internal_id),
        ts=ts if isinstance(ts, int) and 0 < ts < 2**53 else int(now * 1000),
        received_at=now,
    )
    report = parse_steps(run_id, body, now=now, max_step_output_bytes=max_step_output_bytes)
    return NewEndpointRun(run_id, app, function, event, report)


def parse_steps(
    run_id: str, body: dict[str, Any], *, now: float, max_step_output_bytes: int
) -> Report:
    """The steps of a report (``steps`` may be absent: a run created before its first
    step ended). Raises ``BadRequest`` for a body that is not a report."""
    named = body.get("run_id")
    if named is not None and named != run_id:
        raise BadRequest(
            f"run_id={named!r} in the body is not the run in the path ({run_id!r}); "
            "report the steps of the run the request belongs to"
        )
    raw = body.get("steps") or []
    if not isinstance(raw, list) or not all(isinstance(op, dict) for op in raw):
        raise BadRequest(f"steps must be an array of opcode objects, not {_short(raw)}")
    steps: list[Step] = []
    finish: Finish | None = None
    wake = False
    retry: str | None = None
    for op in raw:
        kind = str(op.get("op", ""))
        if kind in STEP_DONE or kind in LAZY:
            steps.append(step_of(run_id, ENDPOINT_ITEM, op, now, max_step_output_bytes))
        elif kind == Op.RUN_COMPLETE:
            finish = Finish(RunStatus.COMPLETED, output=op.get("data"))
        else:
            wake = True  # the SDK went async: the server calls the endpoint to go on
            if kind == Op.STEP_ERROR and retry is None:
                retry = _failure(op)
    going_on = wake and finish is None
    return Report(tuple(steps), finish, going_on, retry if going_on else None)


def _failure(op: dict[str, Any]) -> str:
    """``step: Name: message`` for a failed step's opcode, as the history shows it."""
    step = op.get("displayName") or op.get("name") or op.get("id")
    error = op.get("error")
    if isinstance(error, dict):
        return f"{step}: {error.get('name', 'Error')}: {error.get('message', '')}"
    return f"{step}: {_short(error)}"


def call_url(url: str, function: Function, events: Sequence[Event]) -> str:
    """Where the server calls a durable endpoint: its URL with the query of the request
    that started the run (the handler may read it on every call, as in the request), as
    the Inngest dev server does; any other function's ``url`` as it is."""
    if "durable_endpoint" not in function.config or not events:
        return url
    query = events[0].data.get("query_params")
    if not isinstance(query, str) or not query:
        return url
    parts = urlsplit(url)
    own = dict(parse_qsl(parts.query, keep_blank_values=True))
    asked = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k not in own]
    return urlunsplit(parts._replace(query=urlencode([*own.items(), *asked])))


def run_token(secret: str, run_id: str, purpose: str = "run") -> str:
    """The token that lets a client do ``purpose`` with ``run_id`` (and nothing else):
    read its output (``run``) or follow its stream (``stream``)."""
    mac = hmac.new(secret.encode(), f"{purpose}:{run_id}".encode(), hashlib.sha256)
    return mac.hexdigest()


def token_valid(secret: str, run_id: str, token: str, purpose: str = "run") -> bool:
    # Bytes: compare_digest refuses str with non-ASCII characters (a token from anyone).
    return hmac.compare_digest(run_token(secret, run_id, purpose).encode(), token.encode())


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


def reply_of(output: JSON) -> Reply:
    """What ``/v1/http/runs/{run_id}/output`` answers for a run's output: the HTTP
    response the endpoint made (``{status, headers, body}``, as the SDK reports it), else
    the output as JSON."""
    if isinstance(output, dict) and "data" in output and len(output) == 1:
        output = output["data"]
    if isinstance(output, dict):
        status = output.get("status", output.get("status_code"))
        body = output.get("body")
        if isinstance(status, int) and 100 <= status <= 599 and isinstance(body, str):
            raw = output.get("headers")
            headers = {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}
            return Reply(status, headers, body.encode())
    return Reply(200, {"content-type": "application/json"}, orjson.dumps(output))


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:80] + "..."
