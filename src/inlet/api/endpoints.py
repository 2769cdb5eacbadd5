"""The routes of the TypeScript SDK's durable endpoints (``inlet.steps.endpoint``;
docs/protocol.md, "Durable endpoints").

``POST /v1/checkpoint`` creates the run the endpoint's request started, with the steps it
ran so far; ``POST /v1/checkpoint/{run_id}/steps`` reports more. Both take the signing key
as a bearer when one is set, as every SDK route does. ``GET /v1/http/runs/{run_id}/output``
is where the SDK redirects its client when the run went async: it waits for the run to end
and answers the response the endpoint made; the ``token`` in its query (given to the SDK
when the run was created) is its only credential.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import orjson
from starlette.requests import Request
from starlette.responses import Response

from inlet.api.render import json_response
from inlet.api.sdk import check_bearer
from inlet.api.streams import StreamsAPI, stream_token
from inlet.clock import Clock
from inlet.config import Settings
from inlet.errors import BadRequest, NotFound, PayloadTooLarge, Unauthorized
from inlet.ids import new_ulid
from inlet.model import JSON, NewRun
from inlet.steps.checkpoint import StateLimits, Verdict
from inlet.steps.endpoint import (
    Report,
    parse_new_run,
    parse_steps,
    reply_of,
    run_token,
    token_valid,
)
from inlet.store import Store

log = logging.getLogger("inlet.api.endpoints")

HOLD_SECONDS = 3600.0
"""How long a run stays with the request that started it before the server calls the
endpoint to carry it on (a request that died without going async or finishing)."""

OUTPUT_WAIT_SECONDS = 300.0
"""How long ``/output`` waits for the run to end (the Inngest dev server: 5 minutes)."""

OUTPUT_POLL_SECONDS = 0.2

DEV_SECRET = "inlet-dev-endpoint-token"
"""Signs run tokens when the server has no signing key (``inlet dev``)."""


class EndpointAPI:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        clock: Clock,
        reload_functions: Callable[[], Awaitable[None]],
    ) -> None:
        self._settings = settings
        self._reload_functions = reload_functions
        self._saved: set[str] = set()
        """Checksums of the endpoint apps this process saved: each is saved once."""
        self._store = store
        self._clock = clock
        self._limits = StateLimits(
            max_state_bytes=settings.max_state_bytes, max_steps=settings.max_steps_per_run
        )
        self._secret = settings.signing_key or DEV_SECRET
        self.streams = StreamsAPI(settings, self._secret)

    async def new_run(self, request: Request) -> Response:
        check_bearer(self._settings, request)
        body = await self._body(request)
        now = self._clock.now()
        new = parse_new_run(
            body,
            now=now,
            internal_id=new_ulid(now),
            max_step_output_bytes=self._settings.max_step_output_bytes,
        )
        if new.app.checksum not in self._saved:
            if await self._store.save_app(new.app, [new.function]):
                await self._reload_functions()  # the worker calls the endpoint from its copy
            self._saved.add(new.app.checksum)
        # Made due later, not now even when the endpoint went async: recording the report
        # makes it due, after its steps are stored (a call made before would not see them).
        run = NewRun(
            id=new.run_id,
            function_slug=new.function.slug,
            event_ids=(new.event.internal_id,),
            key=new.run_id,
            due_at=now + HOLD_SECONDS,
        )
        result = await self._store.ingest(
            [new.event], [run], now, self._settings.event_dedupe_seconds
        )
        if new.run_id not in result.run_ids:
            return json_response({"error": f"run {new.run_id!r} already exists"}, status=409)
        await self._record(new.run_id, new.report, now)
        log.info(
            "endpoint.run_started", extra={"run_id": new.run_id, "function": new.function.slug}
        )
        token = run_token(self._secret, new.run_id)
        return json_response(
            {
                "data": {
                    "run_id": new.run_id,
                    "fn_id": new.function.slug,
                    "app_id": new.app.app_id,
                    "token": token,
                    "realtime_token": stream_token(self._secret, new.run_id),
                }
            }
        )

    async def report_steps(self, request: Request) -> Response:
        check_bearer(self._settings, request)
        run_id = request.path_params["run_id"]
        body = await self._body(request)
        now = self._clock.now()
        report = parse_steps(
            run_id, body, now=now, max_step_output_bytes=self._settings.max_step_output_bytes
        )
        await self._record(run_id, report, now)
        return json_response({})

    async def output(self, request: Request) -> Response:
        run_id = request.path_params["run_id"]
        token = request.query_params.get("token", "")
        if not token_valid(self._secret, run_id, token):
            raise Unauthorized(
                f"token={token[:12]!r}... does not give access to run {run_id!r}; use the "
                "URL the durable endpoint redirected to, token included"
            )
        waited = 0.0
        while True:
            run = await self._store.get_run(run_id)
            if run is None:
                raise NotFound(f"run {run_id!r} not found")
            if run.status.ended:
                reply = reply_of(run.output)
                return Response(reply.body, status_code=reply.status, headers=reply.headers)
            if waited >= OUTPUT_WAIT_SECONDS:
                status: JSON = "running"
                return json_response(
                    {"status": status, "message": "run did not end within 5 minutes"}
                )
            await asyncio.sleep(OUTPUT_POLL_SECONDS)
            waited += OUTPUT_POLL_SECONDS

    async def _record(self, run_id: str, report: Report, now: float) -> None:
        verdict = await self._store.record_endpoint(run_id, report, self._limits, now)
        if verdict is Verdict.MISSING:
            raise NotFound(f"run {run_id!r} not found; create it with POST /v1/checkpoint")
        if verdict is Verdict.OVER_LIMIT:
            raise PayloadTooLarge(
                f"run {run_id!r} would pass its limit of {self._limits.max_state_bytes} bytes "
                f"of state or {self._limits.max_steps} steps; return smaller step results"
            )
        if verdict is Verdict.STALE:
            log.info("endpoint.report_after_end", extra={"run_id": run_id})

    async def _body(self, request: Request) -> dict[str, object]:
        raw = await request.body()
        limit = self._settings.max_response_bytes
        if len(raw) > limit:
            raise PayloadTooLarge(
                f"the report is {len(raw)} bytes, over the {limit} bytes a call reply may be"
            )
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise BadRequest(f"the body is not valid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise BadRequest(f"the body must be a JSON object, not {type(body).__name__}")
        return body
