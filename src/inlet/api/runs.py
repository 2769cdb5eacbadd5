"""Runs over REST: ``GET /v1/runs`` (filtered, paged), ``/v1/runs/counts``,
``GET /v1/functions/{slug}/stats``, ``GET /v1/runs/{id}``, its ``/history``,
``DELETE /v1/runs/{id}`` and ``POST /v1/cancellations`` (bulk cancel).

Parsing and rendering only: the reads are the store's read model (``store.queries``),
query parameters are ``api.params``', cancelling is ``runs.cancel``'s."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from starlette.requests import Request
from starlette.responses import Response

from inlet.api import params
from inlet.api.body import json_object, timestamp
from inlet.api.metadata import metadata_v1
from inlet.api.render import attempt_v1, counts_v1, page_v1, run_v1, stats_v1, wrapped
from inlet.clock import Clock
from inlet.errors import BadRequest, NotFound
from inlet.ids import new_ulid
from inlet.runs.cancel import Canceller, function_slug
from inlet.runs.registry import Registry
from inlet.store import Store
from inlet.store.queries import Page, RunFilter
from inlet.store.search import search_runs

STUCK_VIEW_AFTER = 60.0
"""Seconds a run must have existed to be listed as stuck (``GET /v1/runs?stuck=true``)."""


class RunsAPI:
    """Reads go to the store; cancels to ``runs.cancel``, which needs the current
    registry to resolve a bulk cancellation's function id."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        canceller: Canceller,
        registry: Callable[[], Registry],
    ) -> None:
        self._store = store
        self._clock = clock
        self._canceller = canceller
        self._registry = registry

    async def list_runs(self, request: Request) -> Response:
        query = request.query_params
        now = self._clock.now()
        if params.flag(query, "stuck"):
            # The reaper's view: runs with nothing left to move them, oldest first.
            stuck = await self._store.stuck_runs(now - STUCK_VIEW_AFTER, params.limit(query))
            return page_v1(Page(tuple(stuck)), now)
        where = await self._of_app(params.run_filter(query), query.get("app"))
        page = await search_runs(
            self._store, where, limit=params.limit(query), after=params.cursor(query), now=now
        )
        return page_v1(page, now)

    async def _of_app(self, where: RunFilter, app: str | None) -> RunFilter:
        """``app`` (its id or URL) as the set of its functions."""
        if not app:
            return where
        apps = await self._store.list_apps()
        urls = {a.url for a in apps if app in (a.url, a.app_id)}
        if not urls:
            known = ", ".join(sorted(a.app_id or a.url for a in apps)) or "none"
            raise NotFound(f"app {app!r} is not synced; known apps: {known}")
        slugs = tuple(f.slug for f in self._registry().functions.values() if f.app_url in urls)
        # An app with no function selects no run, not every run.
        return replace(where, functions=slugs or ("",))

    async def counts(self, request: Request) -> Response:
        where = params.run_filter(request.query_params)
        counts = await self._store.run_counts(where)
        return wrapped(counts_v1(counts, where.statuses), self._clock.now())

    async def stats(self, request: Request) -> Response:
        slug = request.path_params["slug"]
        if self._registry().get(slug) is None:
            known = ", ".join(sorted(self._registry().functions)) or "none"
            raise NotFound(f"function {slug!r} is not registered; known functions: {known}")
        now = self._clock.now()
        window = params.window(request.query_params, now)
        found = await self._store.function_stats(slug, window.since, window.until, window.bucket)
        stats = found[0] if found else None
        return wrapped(stats_v1(slug, stats, window.since, window.until, window.bucket), now)

    async def get_run(self, request: Request) -> Response:
        run = await self._store.get_run(request.path_params["run_id"])
        if run is None:
            raise NotFound(f"run {request.path_params['run_id']!r} not found")
        body = run_v1(run)
        body["inlet"]["metadata"] = metadata_v1(await self._store.run_metadata(run.id))
        return wrapped(body, self._clock.now())

    async def history(self, request: Request) -> Response:
        run_id = request.path_params["run_id"]
        if await self._store.get_run(run_id) is None:
            raise NotFound(f"run {run_id!r} not found")
        attempts = await self._store.history(run_id)
        return wrapped([attempt_v1(a) for a in attempts], self._clock.now())

    async def cancel(self, request: Request) -> Response:
        run_id = request.path_params["run_id"]
        reason = f"cancelled through the API (DELETE /v1/runs/{run_id})"
        run = await self._canceller.cancel(run_id, reason)
        return wrapped(run_v1(run), self._clock.now())

    async def bulk_cancel(self, request: Request) -> Response:
        body = await json_object(request)
        slug = function_slug(self._registry(), body.get("function_id"), body.get("app_id"))
        after = timestamp(body.get("started_after"), "started_after")
        before = timestamp(body.get("started_before"), "started_before")
        condition = body.get("if")
        if condition is not None and not isinstance(condition, str):
            raise BadRequest('if must be an expression string, e.g. "event.data.id == 1"')
        cancelled = await self._canceller.cancel_many(
            slug, started_after=after, started_before=before, condition=condition
        )
        return wrapped(
            {
                "id": new_ulid(self._clock.now()),
                "function_id": slug,
                "started_after": body.get("started_after"),
                "started_before": body.get("started_before"),
                "if": condition,
                "cancelled": len(cancelled),
                "run_ids": cancelled,
            },
            self._clock.now(),
        )
