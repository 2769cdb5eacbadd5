"""The checkpoint API of the TypeScript SDK v4 (docs/protocol.md, "Checkpointing").

A call request carries ``ctx.fn_id`` and ``ctx.qi_id``, so the SDK runs several steps in
one request and reports each to ``POST /v1/checkpoint/{run_id}/async`` as it finishes;
the call's final reply then holds only what was not reported (``RunComplete``, a sleep...).

Answers the SDK acts on: 200 saved; 409 a stale dispatch (the SDK stops the request);
400 and 413 a checkpoint it cannot send again as it is. On any other failure the SDK
retries, then returns the steps in its 206 reply as without checkpointing.

``/v1/checkpoint`` (a new run), ``/v1/checkpoint/{run_id}/steps`` and
``/v1/http/runs/{run_id}/output`` serve the SDK's durable endpoints (functions run inside an
app's own HTTP handler): ``inlet.api.endpoints``. Like the other SDK routes, the checkpoint
routes check the signing key (or its fallback) as a bearer when one is set.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import orjson
from starlette.requests import Request
from starlette.responses import Response

from inlet.api.endpoints import EndpointAPI
from inlet.api.render import json_response
from inlet.api.sdk import check_bearer
from inlet.clock import Clock
from inlet.config import Settings
from inlet.errors import (
    BadRequest,
    NotFound,
    PayloadTooLarge,
    StaleDispatch,
)
from inlet.executor.step_metadata import updates_of
from inlet.steps.checkpoint import StateLimits, Verdict, parse
from inlet.store import Store

log = logging.getLogger("inlet.api.checkpoint")


class CheckpointAPI:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        clock: Clock,
        reload_functions: Callable[[], Awaitable[None]],
    ) -> None:
        self._settings = settings
        self._store = store
        self._clock = clock
        self._limits = StateLimits(
            max_state_bytes=settings.max_state_bytes, max_steps=settings.max_steps_per_run
        )
        self.endpoints = EndpointAPI(settings, store, clock, reload_functions)

    async def save_async(self, request: Request) -> Response:
        self._check_bearer(request)
        run_id = request.path_params["run_id"]
        raw = await request.body()
        # The steps would otherwise have come in the call's reply: the same limit holds.
        limit = self._settings.max_response_bytes
        if len(raw) > limit:
            raise PayloadTooLarge(
                f"the checkpoint of run {run_id!r} is {len(raw)} bytes, over the {limit} "
                "bytes a call reply may be; return smaller step results"
            )
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise BadRequest(f"the checkpoint body is not valid JSON: {exc}") from None
        if not isinstance(body, dict):
            kind = type(body).__name__
            raise BadRequest(f"the checkpoint body must be a JSON object, not {kind}")
        now = self._clock.now()
        cp = parse(
            run_id, body, now=now, max_step_output_bytes=self._settings.max_step_output_bytes
        )
        verdict = await self._store.checkpoint(cp, self._limits, now)
        if verdict is Verdict.MISSING:
            raise NotFound(f"run {run_id!r} not found; a checkpoint belongs to a run in flight")
        if verdict is Verdict.STALE:
            log.info("checkpoint.stale", extra={"run_id": run_id, "item": cp.item_id})
            raise StaleDispatch(
                f"the call {body.get('qi_id')!r} of run {run_id!r} is no longer current (its "
                "lease ran out or was taken over, or the run ended); stop this request, the "
                "run goes on from its recorded steps"
            )
        if verdict is Verdict.OVER_LIMIT:
            raise PayloadTooLarge(
                f"run {run_id!r} would pass its limit of {self._limits.max_state_bytes} bytes "
                f"of state or {self._limits.max_steps} steps (as in Inngest); return smaller "
                "step results, or split the work across runs with step.invoke"
            )
        if updates := updates_of(body["steps"]):
            # inngest.metadata.set() inside a checkpointed step.run rides on its opcode.
            await self._store.update_metadata(run_id, updates, now)
        log.debug("checkpoint.saved", extra={"run_id": run_id, "steps": len(cp.steps)})
        return json_response({})

    def _check_bearer(self, request: Request) -> None:
        check_bearer(self._settings, request)
