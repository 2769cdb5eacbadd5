"""Bulk operations on the dashboard: replay or cancel the runs of a function by status and
creation time (a replay may also run the events the function skipped while paused). A
function's page asks; a preview counts what the operation would act on before an admin
confirms it; its own page shows the progress live while ``runs.bulk`` carries it out.

The REST twins are ``POST /v1/bulk`` (with ``dry_run`` for the preview), ``GET
/v1/bulk[/{id}]`` and ``POST /v1/bulk/{id}/cancel``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from inlet.errors import BadRequest, InletError
from inlet.store.operations import BulkOp, bulk_kind
from inlet.ui import views
from inlet.ui.render import form, html
from inlet.ui.services import Services


class BulkPages:
    def __init__(self, services: Services) -> None:
        self._s = services

    async def index(self, request: Request) -> Response:
        ops = await self._s.bulk.list()
        now = self._s.clock.now()
        running = any(not op.finished for op in ops)
        return html(
            request,
            "bulk.html",
            section="bulk",
            ops=[views.bulk_view(op, now) for op in ops],
            live="/ui/stream?page=bulk" if running else "",
        )

    def _draft(self, slug: str, fields: dict[str, str], statuses: list[str]) -> BulkOp:
        kind = fields.get("kind", "")
        if kind not in ("replay", "cancel"):
            raise BadRequest(f"{kind!r} is not a bulk operation; expected replay or cancel")
        self._s.pauser.known(slug)
        return self._s.bulk.draft(
            bulk_kind(kind),
            slug,
            statuses,
            views.parse_local(fields.get("since", "")),
            views.parse_local(fields.get("until", "")),
            fields.get("name", "").strip()[:200],
        )

    async def preview(self, request: Request) -> Response:
        """What the operation would act on, counted, with the form that starts it."""
        slug = request.path_params["slug"]
        fields = dict(request.query_params)
        statuses = request.query_params.getlist("status")
        try:
            draft = self._draft(slug, fields, statuses)
            count = await self._s.bulk.count(draft)
        except InletError as exc:
            return _refused(request, exc, f"/ui/functions/{slug}", f"Back to {slug}")
        return html(
            request,
            "bulk_preview.html",
            section="bulk",
            view=views.bulk_view(draft, self._s.clock.now()),
            draft=draft,
            count=count,
            since=fields.get("since", ""),
            until=fields.get("until", ""),
        )

    async def create(self, request: Request) -> Response:
        fields = await form(request)
        slug = fields.get("function", "")
        statuses = [s for s in fields.get("statuses", "").split(",") if s]
        try:
            op = await self._s.bulk.create(self._draft(slug, fields, statuses))
        except InletError as exc:
            return _refused(request, exc, f"/ui/functions/{slug}", f"Back to {slug}")
        return RedirectResponse(f"/ui/bulk/{op.id}", status_code=303)

    async def detail(self, request: Request) -> Response:
        try:
            op = await self._s.bulk.get(request.path_params["op_id"])
        except InletError as exc:
            return _refused(request, exc, "/ui/bulk", "Back to the bulk actions", "Not found")
        return html(
            request,
            "bulk_op.html",
            section="bulk",
            view=views.bulk_view(op, self._s.clock.now()),
            op=op,
            live="" if op.finished else f"/ui/stream?bulk={op.id}",
        )

    async def cancel(self, request: Request) -> Response:
        op_id = request.path_params["op_id"]
        try:
            await self._s.bulk.cancel(op_id)
        except InletError as exc:
            return _refused(request, exc, f"/ui/bulk/{op_id}", "Back to the operation")
        return RedirectResponse(f"/ui/bulk/{op_id}", status_code=303)


def _refused(
    request: Request, exc: InletError, back: str, label: str, heading: str = "Not done"
) -> Response:
    return html(
        request,
        "missing.html",
        exc.http_status,
        what=exc.message,
        section="bulk",
        heading=heading,
        back=back,
        back_label=label,
    )
