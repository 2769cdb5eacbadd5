"""Functions over REST: ``GET /v1/functions``, ``GET /v1/functions/{slug}`` and
``POST /v1/functions/{slug}/invoke`` (start a run now).

The functions are the process's current registry, the same snapshot that triggers runs.
An invoke is what Inngest's dev server sends from its "Invoke" button (``runs.invoke``):
a cron-only function invoked this way simply runs now, and flow control applies as to any
other run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from inlet.api.render import iso, wrapped
from inlet.clock import Clock
from inlet.config import Settings
from inlet.errors import BadRequest, FunctionConfigInvalid, InvalidValue
from inlet.flow.spec import FunctionSpec
from inlet.model import Function, RunStatus
from inlet.runs.invoke import Invoker
from inlet.runs.registry import Registry
from inlet.scheduler.cron import next_fire, parse_cron
from inlet.store import Store
from inlet.store.queries import RunFilter

NEXT_FIRES = 5
"""How many upcoming fire times each cron trigger lists."""


def cron_v1(expression: str, jitter: str | None, now: float) -> dict[str, Any]:
    """A cron trigger's next fires after ``now``; a schedule that no longer parses (stored
    before a check was added) shows why instead."""
    try:
        schedule = parse_cron(expression, jitter)
    except InvalidValue as exc:
        return {"expression": expression, "jitter": jitter, "next_fires": [], "error": exc.message}
    fires: list[str | None] = []
    at = now
    for _ in range(NEXT_FIRES):
        try:
            at = next_fire(schedule, at)
        except InvalidValue:
            break
        fires.append(iso(at))
    return {"expression": expression, "jitter": jitter, "next_fires": fires, "error": None}


def spec_v1(fn: Function) -> dict[str, Any]:
    """The function's flow control, cancelOn and timeouts as ``FunctionSpec`` parsed them
    (durations in seconds); ``error`` says why a stored config no longer parses."""
    try:
        spec = FunctionSpec.parse(fn.config)
    except FunctionConfigInvalid as exc:
        return {"flow": None, "cancel_on": [], "timeouts": None, "error": exc.message}
    return {
        "flow": dataclasses.asdict(spec.flow),
        "cancel_on": [
            {"event": c.event, "if": c.condition, "timeout_seconds": c.timeout} for c in spec.cancel
        ],
        "timeouts": {"start_seconds": spec.start_timeout, "finish_seconds": spec.finish_timeout},
        "error": None,
    }


def function_v1(fn: Function, now: float, paused_at: float | None) -> dict[str, Any]:
    crons = [cron_v1(t.cron, t.jitter, now) for t in fn.triggers if t.cron]
    return {
        "function_id": fn.slug,
        "paused": paused_at is not None,
        "paused_at": iso(paused_at),
        "name": fn.name,
        "app_url": fn.app_url,
        "url": fn.url,
        "triggers": [
            {"event": t.event, "expression": t.expression, "cron": t.cron, "jitter": t.jitter}
            for t in fn.triggers
        ],
        "retries": fn.retries,
        "is_cron": bool(crons),
        "crons": crons,
        **spec_v1(fn),
    }


class FunctionsAPI:
    """Reads come from the registry and the store's paused functions (and, for one
    function, its run counts);
    invokes go through ``runs.invoke``, as the dashboard's do."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        clock: Clock,
        registry: Callable[[], Registry],
        invoker: Invoker,
    ) -> None:
        self._settings = settings
        self._store = store
        self._clock = clock
        self._registry = registry
        self._invoker = invoker

    async def list_functions(self, request: Request) -> Response:
        now = self._clock.now()
        functions = sorted(self._registry().functions.values(), key=lambda f: f.slug)
        paused = await self._store.paused_functions()
        return wrapped([function_v1(fn, now, paused.get(fn.slug)) for fn in functions], now)

    async def get_function(self, request: Request) -> Response:
        fn = self._function(request.path_params["slug"])
        now = self._clock.now()
        body = function_v1(fn, now, (await self._store.paused_functions()).get(fn.slug))
        active = (RunStatus.QUEUED, RunStatus.RUNNING)
        counts = await self._store.run_counts(RunFilter(function_slug=fn.slug, statuses=active))
        flow = await self._store.flow_now(fn.slug, now)
        body["state"] = {
            "runs": {s.value: counts.get(s, 0) for s in active},
            "concurrency": {
                key: {"in_flight": flow.in_flight.get(key, 0), "waiting": flow.waiting.get(key, 0)}
                for key in sorted(flow.in_flight.keys() | flow.waiting.keys())
            },
            "delayed_runs": flow.delayed,
            "gates": [
                {
                    "gate": g.gate,
                    "key": g.key,
                    "next_slot_at": iso(g.tat),
                    "run_id": g.run_id,
                    "size": g.size,
                }
                for g in flow.gates
            ],
        }
        return wrapped(body, now)

    async def invoke(self, request: Request) -> Response:
        """Start a run of the function now with ``{"data": {...}, "user": {...}}``."""
        fn = self._function(request.path_params["slug"])
        data, user = _invoke_body(await request.body())
        now = self._clock.now()
        invoked = await self._invoker.invoke(fn.slug, data, user, now)
        return wrapped(
            {
                "function_id": invoked.function_slug,
                "event_ids": [invoked.event_id],
                "run_ids": list(invoked.run_ids),
                "skipped": [
                    {"function_id": s.function_slug, "reason": s.reason} for s in invoked.skipped
                ],
            },
            now,
        )

    def _function(self, slug: str) -> Function:
        return self._invoker.function(slug)


def _invoke_body(body: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    if not body.strip():
        return {}, {}
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(
            f'the body is not valid JSON: {exc}; expected {{"data": {{...}}, "user": {{...}}}}'
        ) from None
    if not isinstance(payload, dict):
        raise BadRequest(
            f"the body is {_short(payload)}, not a JSON object; expected "
            '{"data": {...}, "user": {...}}'
        )
    found = []
    for name in ("data", "user"):
        value = payload.get(name)
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise BadRequest(
                f"{name}={_short(value)} is not a JSON object; "
                f"expected {name}: {{...}} or no {name}"
            )
        found.append(value)
    return found[0], found[1]


def _short(value: object) -> str:
    text = orjson.dumps(value).decode()
    return text if len(text) <= 60 else text[:57] + "..."
