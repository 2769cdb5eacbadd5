"""A fake SDK app for tests: functions as small async Python functions, served over ASGI.

It speaks the call protocol as ``docs/protocol.md`` and ``inlet.steps.machine`` read it:
200 with the function's result, 206 with one opcode (``StepRun``, ``StepError`` or
``StepFailed``, ``StepPlanned``, ``Sleep``, ``WaitForEvent``, ``InvokeFunction``,
``Gateway``) after the ``DeferAdd``/``DeferAbort`` of ``Context.defer`` (and the result in a
``RunComplete`` after them, as TS v4 does, when the function returns with defers to send),
and an error status with ``X-Inngest-No-Retry`` or ``Retry-After`` when the function raises.
Each execution replays the function from the top, returning memoised results, as the SDKs
do. It is deliberately small (no parallel steps, no ``send_event``, no signatures): it
makes the server's time behaviour testable without processes, and proves nothing about
compatibility with the real SDKs, which the acceptance tests run.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

from inlet.clock import FakeClock
from inlet.testing.asgi import Receive, Scope, Send

SDK_HEADER = "inlet-fake:v0.1"


class StepError(Exception):
    """A step failed for good (or an invoked function did); raised where it is awaited."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message


class NonRetriableError(Exception):
    """Raise it to fail the run (or the step) at once: the reply says not to retry."""


class RetryAfterError(Exception):
    """Raise it to ask for the next attempt no sooner than ``seconds`` from now."""

    def __init__(self, message: str, seconds: float) -> None:
        super().__init__(message)
        self.seconds = seconds


class _Reply(BaseException):
    """Ends the function's execution with opcodes. A BaseException, so that user code's
    ``except Exception`` does not swallow it (the SDKs use the same trick)."""

    def __init__(self, op: dict[str, Any], headers: Mapping[str, str] | None = None) -> None:
        super().__init__(op.get("op"))
        self.op = op
        self.headers = dict(headers or {})


def _duration(seconds: float) -> str:
    return f"{round(seconds * 1000)}ms"


def _iso(instant: float) -> str:
    text = datetime.fromtimestamp(instant, UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def _error(exc: BaseException) -> dict[str, str]:
    if isinstance(exc, StepError):
        return {"name": exc.name, "message": exc.message}
    return {"name": type(exc).__name__, "message": str(exc)}


class Step:
    """The step API of one execution. Each step is looked up by the hash of its name
    (``name:n`` for its n-th repeat, docs/protocol.md §5.3); a memoised step returns its stored
    result, and the first new one ends the execution with its opcode."""

    def __init__(self, memos: Mapping[str, Any], target: str | None, plan: bool, ctx: Context):
        self._memos = memos
        self._target = target
        self._plan = plan
        self._ctx = ctx
        self._seen: dict[str, int] = {}

    def _id(self, name: str) -> str:
        n = self._seen.get(name, 0)
        self._seen[name] = n + 1
        return hashlib.sha1((name if n == 0 else f"{name}:{n}").encode()).hexdigest()

    def _op(self, op: str, step_id: str, name: str, **fields: Any) -> _Reply:
        return _Reply({"op": op, "id": step_id, "name": name, "displayName": name, **fields})

    async def run(self, name: str, body: Callable[[], Any]) -> Any:
        """Run ``body`` (sync or async) once; later executions get its result back."""
        step_id = self._id(name)
        if step_id in self._memos:
            return _unwrap(self._memos[step_id])
        if self._plan and self._target != step_id:
            raise self._op("StepPlanned", step_id, name)
        try:
            value = body()
            if inspect.isawaitable(value):
                value = await value
        except Exception as exc:
            final = isinstance(exc, NonRetriableError) or self._ctx.final_attempt
            headers = {"x-inngest-no-retry": "true"} if isinstance(exc, NonRetriableError) else {}
            op = self._op("StepFailed" if final else "StepError", step_id, name, error=_error(exc))
            op.headers.update(headers)
            raise op from None
        raise self._op("StepRun", step_id, name, data=value)

    async def fetch(
        self,
        url: str,
        *,
        method: str = "GET",
        headers: Mapping[str, str] | None = None,
        body: str | None = None,
    ) -> dict[str, Any]:
        """``step.fetch``: the server makes the call; returns ``{status_code, headers,
        body}`` as the TS SDK reads it, or raises ``StepError`` if no response came."""
        name = f"step.fetch: {urlsplit(url).hostname}"
        step_id, memo = self._lookup(name)
        if memo is _NEW:
            opts = {"url": url, "method": method, "headers": dict(headers or {}), "body": body}
            raise self._op("Gateway", step_id, name, opts=opts)
        return dict(_unwrap(memo))

    async def sleep(self, name: str, seconds: float) -> None:
        step_id, memo = self._lookup(name)
        if memo is _NEW:
            raise self._op("Sleep", step_id, name, opts={"duration": _duration(seconds)})

    async def sleep_until(self, name: str, instant: float) -> None:
        step_id, memo = self._lookup(name)
        if memo is _NEW:
            raise self._op("Sleep", step_id, name, opts={"duration": _iso(instant)})

    async def wait_for_event(
        self, name: str, *, event: str, within: float, if_exp: str | None = None
    ) -> dict[str, Any] | None:
        """The matching event (as sent on the wire), or None if ``within`` seconds passed
        first."""
        step_id, memo = self._lookup(name)
        if memo is _NEW:
            opts = {"event": event, "timeout": _duration(within), "if": if_exp}
            raise self._op("WaitForEvent", step_id, name, opts=opts)
        return memo if isinstance(memo, dict) else None

    async def invoke(
        self,
        name: str,
        *,
        function_id: str,
        data: Mapping[str, Any] | None = None,
        within: float | None = None,
    ) -> Any:
        """Start ``function_id`` (its full slug) and return its result; raises
        ``StepError`` with the invoked function's error, or the timeout's after ``within``
        seconds."""
        step_id, memo = self._lookup(name)
        if memo is _NEW:
            opts = {
                "function_id": function_id,
                "payload": {"data": dict(data or {})},
                "timeout": None if within is None else _duration(within),
            }
            raise self._op("InvokeFunction", step_id, name, opts=opts)
        return _unwrap(memo)

    def _lookup(self, name: str) -> tuple[str, Any]:
        step_id = self._id(name)
        return step_id, self._memos.get(step_id, _NEW)


_NEW: Any = object()


def _unwrap(memo: Any) -> Any:
    """A memo as the SDKs read it (docs/protocol.md §5.4): ``{"data"}`` is a result, ``{"error"}``
    is raised, anything else is raw data."""
    if isinstance(memo, dict) and set(memo) == {"data"}:
        return memo["data"]
    if isinstance(memo, dict) and set(memo) == {"error"} and isinstance(memo["error"], dict):
        error = memo["error"]
        raise StepError(str(error.get("name", "Error")), str(error.get("message", "")))
    return memo


@dataclass
class Context:
    """What a fake function receives: the triggering event(s) and the step API."""

    event: dict[str, Any]
    events: list[dict[str, Any]]
    run_id: str
    attempt: int
    max_attempts: int
    step: Step = field(init=False)
    prior_defers: Mapping[str, Any] = field(default_factory=dict)
    """The call request's ``defers``: what the server already recorded."""
    lazy: list[dict[str, Any]] = field(default_factory=list)
    """``DeferAdd``/``DeferAbort`` ops to send with this execution's reply."""

    @property
    def final_attempt(self) -> bool:
        return self.attempt + 1 >= self.max_attempts

    def defer(
        self, defer_id: str, function_slug: str, data: Mapping[str, Any], meta: Any = None
    ) -> Callable[[], None]:
        """Have ``function_slug`` (a function triggered by ``inngest/deferred.schedule``)
        run once this run ends, as TS v4's ``defer()`` does: a ``DeferAdd`` sent with the
        reply unless the server already has it. Returns the handle's ``abort``."""
        hashed = hashlib.sha1(defer_id.encode()).hexdigest()
        if hashed not in self.prior_defers:
            opts: dict[str, Any] = {"fn_slug": function_slug, "input": dict(data)}
            if meta is not None:
                opts["meta"] = meta
            self.lazy.append({"op": "DeferAdd", "id": hashed, "name": defer_id, "opts": opts})

        def abort() -> None:
            prior = self.prior_defers.get(hashed)
            if isinstance(prior, dict) and prior.get("abortable") is False:
                return
            abort_id = hashlib.sha1(f"{hashed}:abort".encode()).hexdigest()
            self.lazy[:] = [op for op in self.lazy if op["id"] != hashed]
            if hashed in self.prior_defers:
                opts = {"target_hashed_id": hashed, "fn_slug": function_slug, "id": defer_id}
                self.lazy.append(
                    {"op": "DeferAbort", "id": abort_id, "name": defer_id, "opts": opts}
                )

        return abort


Handler = Callable[[Context], Awaitable[Any]]


@dataclass(frozen=True)
class Called:
    """One call request the fake SDK received."""

    function_id: str
    run_id: str
    step_id: str
    attempt: int
    at: float


@dataclass(frozen=True)
class FakeFunction:
    fn_id: str
    handler: Handler
    triggers: tuple[dict[str, Any], ...]
    retries: int | None
    config: Mapping[str, Any]


class FakeSDK:
    """A fake SDK app. Register functions with the ``function`` decorator; flow-control
    options are given in their wire form (``throttle={"limit": 1, "period": "2s"}``,
    ``batchEvents=...``). Function slugs are ``<app_id>-<fn_id>``, as the SDKs make them.
    ``calls`` lists every call request received, with the clock's time."""

    def __init__(
        self,
        app_id: str = "fake",
        url: str = "http://fake-sdk.test/api/inngest",
        clock: FakeClock | None = None,
    ) -> None:
        self.app_id = app_id
        self.url = url
        self.clock = clock
        self.functions: dict[str, FakeFunction] = {}
        self.calls: list[Called] = []

    @property
    def origin(self) -> str:
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}"

    def slug(self, fn_id: str) -> str:
        return f"{self.app_id}-{fn_id}"

    def function(
        self,
        fn_id: str,
        *,
        event: str | None = None,
        cron: str | None = None,
        expression: str | None = None,
        retries: int | None = None,
        **config: Any,
    ) -> Callable[[Handler], Handler]:
        trigger: dict[str, Any] = {"event": event} if event else {"cron": cron}
        if expression:
            trigger["expression"] = expression

        def register(handler: Handler) -> Handler:
            self.functions[self.slug(fn_id)] = FakeFunction(
                fn_id, handler, (trigger,), retries, config
            )
            return handler

        return register

    def registration(self) -> dict[str, Any]:
        """The body of ``POST /fn/register`` for this app."""
        functions = []
        for slug, fn in self.functions.items():
            step: dict[str, Any] = {
                "id": "step",
                "name": "step",
                "runtime": {"type": "http", "url": f"{self.url}?fnId={slug}&stepId=step"},
            }
            if fn.retries is not None:
                step["retries"] = {"attempts": fn.retries}
            functions.append(
                {
                    "id": slug,
                    "name": fn.fn_id,
                    "triggers": list(fn.triggers),
                    "steps": {"step": step},
                    **fn.config,
                }
            )
        return {
            "url": self.url,
            "appName": self.app_id,
            "framework": "asgi",
            "sdk": SDK_HEADER,
            "functions": functions,
        }

    async def __call__(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        query = parse_qs(bytes(scope.get("query_string", b"")).decode())
        fn = self.functions.get(query.get("fnId", [""])[0])
        headers: dict[str, str] = {}
        if fn is None:
            status, payload = 500, {"name": "Error", "message": "no such function"}
        else:
            status, payload, headers = await self._execute(fn, orjson.loads(body), query)
        headers = {"content-type": "application/json", "x-inngest-sdk": SDK_HEADER} | headers
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
            }
        )
        await send({"type": "http.response.body", "body": orjson.dumps(payload)})

    async def _execute(
        self, fn: FakeFunction, request: dict[str, Any], query: Mapping[str, list[str]]
    ) -> tuple[int, Any, dict[str, str]]:
        call = request.get("ctx") or {}
        step_id = query.get("stepId", ["step"])[0]
        ctx = Context(
            event=request.get("event") or {},
            events=list(request.get("events") or []),
            run_id=str(call.get("run_id", "")),
            attempt=int(call.get("attempt", 0)),
            max_attempts=int(call.get("max_attempts", 1)),
            prior_defers=dict(request.get("defers") or {}),
        )
        plan = bool(call.get("disable_immediate_execution"))
        target = None if step_id == "step" else step_id
        ctx.step = Step(request.get("steps") or {}, target, plan, ctx)
        now = self.clock.now() if self.clock is not None else 0.0
        self.calls.append(Called(self.slug(fn.fn_id), ctx.run_id, step_id, ctx.attempt, now))
        try:
            result = await fn.handler(ctx)
        except _Reply as reply:
            return 206, [*ctx.lazy, reply.op], reply.headers
        except NonRetriableError as exc:
            return 400, _error(exc), {"x-inngest-no-retry": "true"}
        except RetryAfterError as exc:
            # As the Python SDK does: an absolute time, to the millisecond.
            return 500, _error(exc), {"retry-after": _iso(now + exc.seconds)}
        except Exception as exc:
            return 500, _error(exc), {"x-inngest-no-retry": "false"}
        if ctx.lazy:
            # As TS v4 and Python 0.5.20 do with defers still to send: the result travels
            # in a RunComplete after them.
            return 206, [*ctx.lazy, {"op": "RunComplete", "id": "complete", "data": result}], {}
        return 200, result, {}
