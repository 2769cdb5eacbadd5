"""Operating over REST: rerun a run (``POST /v1/runs/{id}/rerun``), pause and resume a
function (``POST /v1/functions/{slug}/pause|resume``), and bulk operations
(``POST /v1/bulk`` to preview or start one, ``GET /v1/bulk``, ``GET /v1/bulk/{id}`` for
its progress, ``POST /v1/bulk/{id}/cancel``).

Parsing and rendering only: the work is ``runs.rerun``'s, ``runs.pause``'s and
``runs.bulk``'s."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from inlet.api.body import flag, json_object, strings, text, timestamp
from inlet.api.render import iso, wrapped
from inlet.clock import Clock
from inlet.errors import BadRequest
from inlet.runs.bulk import BulkOps
from inlet.runs.pause import Pauser, PauseState
from inlet.runs.rerun import Rerunner
from inlet.store.operations import BULK_KINDS, BulkOp, bulk_kind


def bulk_v1(op: BulkOp) -> dict[str, Any]:
    return {
        "id": op.id,
        "kind": op.kind,
        "function_id": op.function_slug,
        "statuses": list(op.statuses),
        "created_after": iso(op.created_after),
        "created_before": iso(op.created_before),
        "name": op.name,
        "state": op.state,
        "total": op.total,
        "done": op.done,
        "changed": op.changed,
        "error": op.error,
        "created_at": iso(op.created_at),
        "updated_at": iso(op.updated_at),
    }


def pause_v1(state: PauseState) -> dict[str, Any]:
    return {
        "function_id": state.slug,
        "paused": state.paused_at is not None,
        "paused_at": iso(state.paused_at),
        "cancelled_run_ids": list(state.cancelled),
    }


def created(response: Response) -> Response:
    response.status_code = 201
    return response


class OperationsAPI:
    def __init__(self, rerunner: Rerunner, pauser: Pauser, bulk: BulkOps, clock: Clock) -> None:
        self._rerunner = rerunner
        self._pauser = pauser
        self._bulk = bulk
        self._clock = clock

    async def rerun(self, request: Request) -> Response:
        """``{"from_step": "<step id or name>"}`` (optional) keeps the steps before it."""
        run_id = request.path_params["run_id"]
        body = await json_object(request, required=False)
        from_step = text(body, "from_step")
        now = self._clock.now()
        new_id = await self._rerunner.rerun(run_id, now, from_step)
        data = {"run_id": new_id, "rerun_of": run_id, "from_step": from_step}
        return created(wrapped(data, now))

    async def pause(self, request: Request) -> Response:
        """``{"cancel_running": true}`` (optional) also cancels the runs under way."""
        body = await json_object(request, required=False)
        slug = request.path_params["slug"]
        state = await self._pauser.pause(slug, cancel_running=flag(body, "cancel_running"))
        return wrapped(pause_v1(state), self._clock.now())

    async def resume(self, request: Request) -> Response:
        state = await self._pauser.resume(request.path_params["slug"])
        return wrapped(pause_v1(state), self._clock.now())

    async def create_bulk(self, request: Request) -> Response:
        """``{"kind": "replay"|"cancel", "function_id", "statuses": [...],
        "created_after", "created_before", "name", "dry_run"}``: with ``dry_run`` only
        the count it would act on (the preview), else the operation, started."""
        body = await json_object(request)
        kind = text(body, "kind")
        if kind not in BULK_KINDS:
            raise BadRequest(f"kind={kind!r} is not a bulk operation; expected one of {BULK_KINDS}")
        slug = text(body, "function_id")
        if not slug:
            raise BadRequest('function_id is required: the function\'s id, e.g. "myapp-charge"')
        self._pauser.known(slug)
        draft = self._bulk.draft(
            bulk_kind(kind),
            slug,
            strings(body, "statuses"),
            timestamp(body.get("created_after"), "created_after"),
            timestamp(body.get("created_before"), "created_before"),
            text(body, "name", default="") or "",
        )
        now = self._clock.now()
        if flag(body, "dry_run"):
            preview = {**bulk_v1(draft), "total": await self._bulk.count(draft), "id": None}
            return wrapped(preview, now)
        op = await self._bulk.create(draft)
        return created(wrapped(bulk_v1(op), now))

    async def list_bulk(self, request: Request) -> Response:
        ops = await self._bulk.list()
        return wrapped([bulk_v1(op) for op in ops], self._clock.now())

    async def get_bulk(self, request: Request) -> Response:
        op = await self._bulk.get(request.path_params["op_id"])
        return wrapped(bulk_v1(op), self._clock.now())

    async def cancel_bulk(self, request: Request) -> Response:
        op = await self._bulk.cancel(request.path_params["op_id"])
        return wrapped(bulk_v1(op), self._clock.now())
