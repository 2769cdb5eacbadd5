"""Wiring: ``create_app(settings, store=..., clock=...)`` builds the whole server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import datetime

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from inlet.api.graphql import GraphQLAPI
from inlet.api.render import (
    attempt_v1,
    dev_info,
    error_response,
    event_v1,
    json_response,
    run_v1,
    wrapped,
)
from inlet.clock import Clock, SystemClock
from inlet.config import Settings
from inlet.errors import BadRequest, Conflict, InletError, NotFound, Unauthorized
from inlet.events.ingest import Ingestor
from inlet.events.matching import Registry
from inlet.events.router import Router
from inlet.executor.transport import Transport
from inlet.executor.worker import Executor
from inlet.expr import compile_expression
from inlet.ids import new_ulid
from inlet.model import Run, RunStatus
from inlet.protocol.signing import bearer_matches
from inlet.scheduler.service import Scheduler
from inlet.store import Store
from inlet.sync.syncer import Syncer

log = logging.getLogger("inlet.api")

FUNCTIONS_POLL = 5.0
"""Seconds between reloads of the function registry when other processes share the store."""


def open_store(settings: Settings) -> Store:
    db = settings.database
    if db.scheme == "memory":
        from inlet.store.memory import MemoryStore

        return MemoryStore()
    if db.scheme == "postgresql":
        from inlet.store.postgres import PostgresStore

        return PostgresStore(db.raw)
    from inlet.store.sqlite import SQLiteStore

    return SQLiteStore(db.path)


class Server:
    """The services of one process and the routes over them."""

    def __init__(self, settings: Settings, store: Store, clock: Clock) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.registry = Registry(())
        self.transport = Transport(
            timeout=settings.call_timeout,
            max_response_bytes=settings.max_response_bytes,
        )
        self.router = Router(store, lambda: self.registry)
        self.executor = Executor(
            store, settings, clock, lambda: self.registry, self.transport, self.router
        )
        self.ingestor = Ingestor(store, settings, clock, self.router, self.executor.notify)
        self.scheduler = Scheduler(
            store, settings, clock, lambda: self.registry, self.router, self.executor.notify
        )
        self.syncer = Syncer(store, settings, clock, self.reload_functions)
        self._background: set[asyncio.Task[None]] = set()

    async def reload_functions(self) -> None:
        self.registry = Registry(await self.store.list_functions())

    def _functions_changed(self) -> None:
        task = asyncio.create_task(self.reload_functions())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _refresh_functions(self) -> None:
        """The polling path behind the functions notification."""
        while True:
            await asyncio.sleep(FUNCTIONS_POLL)
            try:
                await self.reload_functions()
            except Exception:
                log.exception("functions.reload_failed")

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        await self.store.open()
        released = await self.store.release_all()
        if released:
            log.info("queue.recovered", extra={"items": released})
        await self.reload_functions()
        refresh = None
        if self.store.shared:
            # Another process may sync an app: its functions must trigger here too.
            self.store.watch(self.executor.notify, self._functions_changed)
            refresh = asyncio.create_task(self._refresh_functions(), name="inlet-functions")
        await self.transport.start()
        await self.executor.start()
        await self.syncer.start()
        await self.scheduler.start()
        log.info("server.started", extra={"url": self.settings.base_url})
        try:
            yield
        finally:
            if refresh is not None:
                refresh.cancel()
                await asyncio.gather(refresh, return_exceptions=True)
            await self.scheduler.stop()
            await self.syncer.stop()
            await self.executor.stop()
            await self.transport.close()
            await self.store.close()

    # Handlers

    async def send_events(self, request: Request) -> Response:
        key = request.path_params["key"]
        if self.settings.profile == "start" and key not in self.settings.event_keys:
            return json_response(
                {"status": 401, "message": "", "error": "Event key not found"}, 401
            )
        body = await request.body()
        seed = request.headers.get("x-inngest-event-id-seed")
        try:
            accepted = await self.ingestor.accept(body, seed)
        except BadRequest as exc:
            return json_response(
                {"ids": [], "status": exc.http_status, "error": exc.message}, exc.http_status
            )
        if accepted.error is not None:
            status = accepted.error.http_status
            return json_response(
                {"ids": list(accepted.ids), "status": status, "error": accepted.error.message},
                status,
            )
        return json_response({"ids": list(accepted.ids), "status": 200})

    async def send_events_without_key(self, request: Request) -> Response:
        return json_response(
            {
                "ids": [],
                "status": 400,
                "error": "the event key is missing from the path: send events to "
                "POST /e/{event_key} (any key is accepted by inlet dev)",
            },
            400,
        )

    async def register(self, request: Request) -> Response:
        self._check_bearer(request)
        try:
            payload = orjson.loads(await request.body())
        except orjson.JSONDecodeError as exc:
            raise BadRequest(f"the register body is not valid JSON: {exc}") from None
        modified = await self.syncer.register(payload)
        return json_response({"ok": True, "modified": modified})

    async def dev_info(self, request: Request) -> Response:
        apps = await self.store.list_apps()
        return json_response(dev_info(self.settings, apps, list(self.registry.functions.values())))

    async def run_batch(self, request: Request) -> Response:
        self._check_bearer(request)
        state = await self.store.run_state(request.path_params["run_id"])
        if state is None:
            return json_response({"error": "run not found", "status": 404}, 404)
        return json_response([e.to_wire() for e in state.events])

    async def run_actions(self, request: Request) -> Response:
        self._check_bearer(request)
        state = await self.store.run_state(request.path_params["run_id"])
        if state is None:
            return json_response({"error": "run not found", "status": 404}, 404)
        return json_response({m.step_id: m.value for m in state.memos})

    async def list_events(self, request: Request) -> Response:
        name = request.query_params.get("name")
        try:
            limit = min(int(request.query_params.get("limit", "100")), 1000)
        except ValueError:
            raise BadRequest("limit must be a whole number") from None
        events = await self.store.list_events(name, limit)
        return wrapped([event_v1(e) for e in events], self.clock.now())

    async def get_event(self, request: Request) -> Response:
        event = await self.store.get_event(request.path_params["event_id"])
        if event is None:
            raise NotFound(f"event {request.path_params['event_id']!r} not found")
        runs = await self.store.runs_for_event(event.internal_id)
        skips = await self.store.skips(event.internal_id)
        body = event_v1(event)
        # Inlet's own addition: what the event started and, for the functions it matched
        # but did not start, why not ("why did this event not start a run?").
        body["inlet"] = {
            "runs": [
                {"run_id": r.id, "function_id": r.function_slug, "status": r.status.v1_name}
                for r in runs
            ],
            "skipped": [{"function_id": s.function_slug, "reason": s.reason} for s in skips],
        }
        return wrapped(body, self.clock.now())

    async def event_runs(self, request: Request) -> Response:
        runs = await self.store.runs_for_event(request.path_params["event_id"])
        return wrapped([run_v1(r) for r in runs], self.clock.now())

    async def get_run(self, request: Request) -> Response:
        run = await self.store.get_run(request.path_params["run_id"])
        if run is None:
            raise NotFound(f"run {request.path_params['run_id']!r} not found")
        return wrapped(run_v1(run), self.clock.now())

    async def run_history(self, request: Request) -> Response:
        run_id = request.path_params["run_id"]
        if await self.store.get_run(run_id) is None:
            raise NotFound(f"run {run_id!r} not found")
        attempts = await self.store.history(run_id)
        return wrapped([attempt_v1(a) for a in attempts], self.clock.now())

    async def cancel_run(self, request: Request) -> Response:
        run_id = request.path_params["run_id"]
        run = await self._cancel(run_id, f"cancelled through the API (DELETE /v1/runs/{run_id})")
        return wrapped(run_v1(run), self.clock.now())

    async def _cancel(self, run_id: str, reason: str) -> Run:
        now = self.clock.now()
        cancel = await self.router.cancellation(run_id, reason, now)
        if cancel is not None:
            await self.store.ingest([], [], now, self.settings.event_dedupe_seconds, (), [cancel])
            self.executor.notify()
        run = await self.store.get_run(run_id)
        if run is None:
            raise NotFound(f"run {run_id!r} not found")
        if cancel is None and run.status is not RunStatus.CANCELLED:
            raise Conflict(
                f"run {run_id} already ended as {run.status.value}; there is nothing to cancel"
            )
        return run

    async def bulk_cancel(self, request: Request) -> Response:
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError as exc:
            raise BadRequest(f"the body is not valid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise BadRequest("the body must be a JSON object with function_id")
        slug = self._function_slug(body)
        after = _timestamp(body.get("started_after"), "started_after")
        before = _timestamp(body.get("started_before"), "started_before")
        condition = body.get("if")
        if condition is not None and not isinstance(condition, str):
            raise BadRequest('if must be an expression string, e.g. "event.data.id == 1"')
        expression = compile_expression(condition) if condition else None
        cancelled = []
        runs = await self.store.list_runs(
            slug, active=True, created_after=after, created_before=before, limit=10_000
        )
        for run in runs:
            if expression is not None:
                state = await self.store.run_state(run.id)
                first = state.events[0].to_wire() if state and state.events else {}
                if not expression.matches({"event": first}, now=self.clock.now()):
                    continue
            try:
                await self._cancel(
                    run.id, "cancelled in bulk through the API (POST /v1/cancellations)"
                )
            except Conflict:
                continue
            cancelled.append(run.id)
        return wrapped(
            {
                "id": new_ulid(self.clock.now()),
                "function_id": slug,
                "started_after": body.get("started_after"),
                "started_before": body.get("started_before"),
                "if": condition,
                "cancelled": len(cancelled),
                "run_ids": cancelled,
            },
            self.clock.now(),
        )

    def _function_slug(self, body: dict[str, object]) -> str:
        fn = body.get("function_id")
        if not isinstance(fn, str) or not fn:
            raise BadRequest('function_id is required: the function\'s id, e.g. "myapp-charge"')
        app = body.get("app_id")
        candidates = [fn] + ([f"{app}-{fn}"] if isinstance(app, str) and app else [])
        for slug in candidates:
            if self.registry.get(slug) is not None:
                return slug
        known = ", ".join(sorted(self.registry.functions)) or "none"
        raise NotFound(f"function {fn!r} is not registered; known functions: {known}")

    async def health(self, request: Request) -> Response:
        return json_response({"status": "ok"})

    def _check_bearer(self, request: Request) -> None:
        keys = [self.settings.signing_key] if self.settings.signing_key else []
        if keys and not bearer_matches(request.headers.get("authorization"), keys):
            raise Unauthorized(
                "missing or wrong Authorization bearer: the SDK's signing key "
                "must match the server's"
            )


def _timestamp(value: object, field: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    raise BadRequest(f'{field}={value!r} is not an RFC 3339 time such as "2026-11-22T18:00:00Z"')


async def _inlet_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, InletError)
    return error_response(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return json_response({"error": exc.detail, "status": exc.status_code}, exc.status_code)


def create_app(
    settings: Settings, *, store: Store | None = None, clock: Clock | None = None
) -> Starlette:
    settings.validate()
    server = Server(settings, store or open_store(settings), clock or SystemClock())
    routes = [
        Route("/e/{key}", server.send_events, methods=["POST"]),
        Route("/e", server.send_events_without_key, methods=["POST"]),
        Route("/e/", server.send_events_without_key, methods=["POST"]),
        Route("/fn/register", server.register, methods=["POST"]),
        Route("/dev", server.dev_info, methods=["GET"]),
        Route("/health", server.health, methods=["GET"]),
        Route("/v0/runs/{run_id}/batch", server.run_batch, methods=["GET"]),
        Route("/v0/runs/{run_id}/actions", server.run_actions, methods=["GET"]),
        Route("/v1/events", server.list_events, methods=["GET"]),
        Route("/v1/events/{event_id}", server.get_event, methods=["GET"]),
        Route("/v1/events/{event_id}/runs", server.event_runs, methods=["GET"]),
        Route("/v1/runs/{run_id}", server.get_run, methods=["GET"]),
        Route("/v1/runs/{run_id}", server.cancel_run, methods=["DELETE"]),
        Route("/v1/cancellations", server.bulk_cancel, methods=["POST"]),
        Route("/v1/runs/{run_id}/history", server.run_history, methods=["GET"]),
        Route("/v0/gql", GraphQLAPI(server).handle, methods=["GET", "POST"]),
    ]
    app = Starlette(
        routes=routes,
        lifespan=server.lifespan,
        exception_handlers={InletError: _inlet_error, HTTPException: _http_error},
    )
    app.state.server = server
    return app
