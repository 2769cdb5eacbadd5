"""Reading a register payload (``POST /fn/register`` or an in-band PUT answer).

Both SDK dialects are accepted (docs/protocol.md §2.3: ``appName``/``appname``, keys matched
case-insensitively, unknown keys ignored). A config the Go server would reject is
rejected here, with a message naming the function and the field.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from inlet.errors import BadRequest, FunctionConfigInvalid, InvalidValue
from inlet.expr import compile_expression
from inlet.flow.spec import FunctionSpec
from inlet.model import App, Function, Trigger
from inlet.protocol.jcs import canonical
from inlet.scheduler.cron import parse_cron

MAX_TRIGGERS = 10
MAX_RETRIES = 20
DEFAULT_RETRIES = 4


@dataclass(frozen=True, slots=True)
class Registration:
    app: App
    functions: tuple[Function, ...]


def _lower_keys(obj: Mapping[str, Any]) -> dict[str, Any]:
    return {str(k).lower(): v for k, v in obj.items()}


def app_url(url: str) -> str:
    """An app is known by its URL without the query string."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query="", fragment=""))


def parse_registration(payload: Any, now: float) -> Registration:
    if not isinstance(payload, dict):
        raise BadRequest("the register body must be a JSON object with url, appName and functions")
    body = _lower_keys(payload)
    url = body.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise BadRequest(f"register body: url must be the app's http(s) URL, got {url!r}")
    app_id = body.get("appname") or body.get("app_id")
    if not isinstance(app_id, str) or not app_id:
        raise BadRequest(f"register body: appName must be a non-empty string, got {app_id!r}")
    raw_functions = body.get("functions") or []
    if not isinstance(raw_functions, list):
        raise BadRequest("register body: functions must be an array")
    functions = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_functions):
        fn = parse_function(raw, index, app_url(url))
        if fn.slug in seen:
            raise FunctionConfigInvalid(f"function {fn.slug!r} is registered twice by {url}")
        seen.add(fn.slug)
        functions.append(fn)
    checksum = hashlib.sha256(canonical([payload.get("functions"), app_id])).hexdigest()
    app = App(
        url=app_url(url),
        app_id=app_id,
        sdk=str(body.get("sdk") or ""),
        framework=str(body.get("framework") or ""),
        checksum=checksum,
        synced_at=now,
    )
    return Registration(app, tuple(functions))


def parse_function(raw: Any, index: int, url_of_app: str) -> Function:
    if not isinstance(raw, dict):
        raise FunctionConfigInvalid(f"functions[{index}] must be an object")
    slug = raw.get("id")
    if not isinstance(slug, str) or not slug:
        raise FunctionConfigInvalid(f"functions[{index}].id must be a non-empty string")

    def bad(field: str, problem: str) -> FunctionConfigInvalid:
        return FunctionConfigInvalid(f"function {slug!r}: {field} {problem}")

    name = raw.get("name") or slug
    steps = raw.get("steps")
    if not isinstance(steps, dict) or len(steps) != 1:
        raise bad("steps", "must hold exactly one step")
    step = next(iter(steps.values()))
    if not isinstance(step, dict):
        raise bad("steps", "must map a step id to an object")
    runtime = step.get("runtime") or {}
    step_url = runtime.get("url") if isinstance(runtime, dict) else None
    if not isinstance(step_url, str) or not step_url.startswith(("http://", "https://")):
        raise bad("steps.runtime.url", f"must be an http(s) URL, got {step_url!r}")
    retries = DEFAULT_RETRIES
    raw_retries = step.get("retries")
    if isinstance(raw_retries, dict) and raw_retries.get("attempts") is not None:
        attempts = raw_retries["attempts"]
        if not isinstance(attempts, int) or isinstance(attempts, bool) or attempts < 0:
            raise bad("retries.attempts", f"must be a whole number >= 0, got {attempts!r}")
        if attempts > MAX_RETRIES:
            raise bad("retries.attempts", f"is {attempts}; at most {MAX_RETRIES} retries")
        retries = attempts
    triggers = _triggers(raw.get("triggers"), bad)
    # What the runs will be subject to, parsed as the registry will parse it: what they
    # cannot apply is refused now, not when an event arrives.
    FunctionSpec.parse(raw)
    return Function(
        slug=slug,
        app_url=url_of_app,
        name=str(name),
        url=step_url,
        triggers=triggers,
        retries=retries,
        config=raw,
    )


def _triggers(raw: Any, bad: Any) -> tuple[Trigger, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise bad("triggers", "must be an array")
    if len(raw) > MAX_TRIGGERS:
        raise bad("triggers", f"has {len(raw)} entries; at most {MAX_TRIGGERS}")
    triggers = []
    crons: set[str] = set()
    for i, t in enumerate(raw):
        if not isinstance(t, dict):
            raise bad(f"triggers[{i}]", "must be an object with event or cron")
        event, cron, expression = t.get("event"), t.get("cron"), t.get("expression")
        if event is None and cron is None:
            raise bad(f"triggers[{i}]", "needs an event name or a cron schedule")
        if event is not None and (not isinstance(event, str) or not event):
            raise bad(f"triggers[{i}].event", f"must be a non-empty string, got {event!r}")
        if cron is not None:
            if not isinstance(cron, str) or not cron.strip():
                raise bad(f"triggers[{i}].cron", f"must be a cron schedule, got {cron!r}")
            if cron in crons:
                raise bad(f"triggers[{i}].cron", f"repeats the schedule {cron!r}")
            crons.add(cron)
            jitter = t.get("jitter")
            try:
                parse_cron(cron, jitter if isinstance(jitter, str) and jitter else None)
            except InvalidValue as exc:
                raise bad(f"triggers[{i}].cron", exc.message) from None
        if expression is not None:
            if not isinstance(expression, str):
                raise bad(f"triggers[{i}].expression", "must be a string")
            try:
                compile_expression(expression)
            except InvalidValue as exc:
                raise bad(f"triggers[{i}].expression", exc.message) from None
        triggers.append(
            Trigger(
                event=event,
                expression=expression or None,
                cron=cron,
                jitter=t.get("jitter") if isinstance(t.get("jitter"), str) else None,
            )
        )
    return tuple(triggers)
