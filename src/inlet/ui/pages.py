"""The dashboard's run pages: runs (filtered by function, app, status, time and an
expression, keyset-paged), one run (what failed, the waterfall of attempts, step outputs,
what it waits for, the triggering event; cancel, rerun, rerun from a step), and apps (sync
one, sync a new one by URL).

Reads go through the store's read model; a runs page costs a fixed number of reads
whatever its size (the page, its counts, the states and attempt counts of its runs), an
expression search a bounded number (``store.search``). Changes go through the services
the REST API uses."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from typing import Final
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from inlet.api.runs import STUCK_VIEW_AFTER
from inlet.errors import Conflict, InletError, InvalidValue, NotFound
from inlet.expr import compile_expression
from inlet.model import Run, RunState, RunStatus
from inlet.runs.reaper import MAX_REVIVALS
from inlet.store.queries import Page, RunFilter
from inlet.store.search import search_runs
from inlet.sync.register import app_url
from inlet.ui import views
from inlet.ui.guard import principal_of
from inlet.ui.render import form, html
from inlet.ui.services import Services

PAGE: Final = 50
RANGES: Final = (
    ("15m", "Last 15 minutes", 900.0),
    ("1h", "Last hour", 3600.0),
    ("24h", "Last 24 hours", 86_400.0),
    ("7d", "Last 7 days", 7 * 86_400.0),
    ("30d", "Last 30 days", 30 * 86_400.0),
    ("all", "Any time", 0.0),
    ("custom", "Custom range", 0.0),
)
STUCK_SHOWN: Final = 200
"""Stuck runs the stuck view reads (the oldest)."""
MAX_SHOWN: Final = 200
"""Attempts and steps one run page shows (the first ones); the rest are counted."""


@dataclass(frozen=True, slots=True)
class RunQuery:
    """The runs page's filters, as its form sends them."""

    function: str = ""
    status: str = ""
    range: str = "24h"
    text: str = ""
    after: str = ""
    app: str = ""
    expr: str = ""
    since: str = ""
    until: str = ""
    stuck: bool = False
    """The reaper's view: runs that can no longer move (``store.stuck_runs``)."""

    @classmethod
    def of(cls, request: Request) -> RunQuery:
        q = request.query_params
        status = q.get("status", "").upper()
        window = q.get("range", "24h")
        return cls(
            function=q.get("function", "").strip(),
            status=status if status in RunStatus.__members__ else "",
            range=window if window in {key for key, _, _ in RANGES} else "24h",
            text=q.get("q", "").strip()[:200],
            after=q.get("after", "").strip(),
            app=q.get("app", "").strip(),
            expr=q.get("expr", "").strip()[:2000],
            since=q.get("since", "").strip()[:20],
            until=q.get("until", "").strip()[:20],
            stuck=q.get("stuck", "") in {"1", "true", "on"},
        )

    def where(self, now: float, functions: tuple[str, ...] = ()) -> RunFilter:
        """``functions``: the app's, when an app is chosen."""
        seconds = next(s for key, _, s in RANGES if key == self.range)
        after = now - seconds if seconds else None
        before = None
        if self.range == "custom":
            after, before = views.parse_local(self.since), views.parse_local(self.until)
        return RunFilter(
            function_slug=self.function or None,
            functions=functions,
            statuses=(RunStatus(self.status),) if self.status else (),
            created_after=after,
            created_before=before,
            text=self.text or None,
            expression=self.expr or None,
        )

    def link(self, **changes: str) -> str:
        values = {
            "function": self.function,
            "app": self.app,
            "status": self.status,
            "range": self.range,
            "since": self.since if self.range == "custom" else "",
            "until": self.until if self.range == "custom" else "",
            "q": self.text,
            "expr": self.expr,
            "after": self.after,
            "stuck": "1" if self.stuck else "",
        }
        values.update(changes)
        return "/ui/runs?" + urlencode({k: v for k, v in values.items() if v})


async def app_functions(services: Services, app: str) -> tuple[str, ...]:
    """The functions of ``app`` (its id or URL); ``("",)`` (no run) for an app with none
    or one not synced, so choosing it never shows every run."""
    if not app:
        return ()
    urls = {a.url for a in await services.store.list_apps() if app in (a.url, a.app_id)}
    functions = services.registry().functions.values()
    return tuple(f.slug for f in functions if f.app_url in urls) or ("",)


class Pages:
    def __init__(self, services: Services) -> None:
        self._s = services
        self._store = services.store
        self._clock = services.clock

    async def home(self, request: Request) -> Response:
        return RedirectResponse("/ui/runs", status_code=303)

    async def runs(self, request: Request) -> Response:
        query = RunQuery.of(request)
        now = self._clock.now()
        where = query.where(now, await app_functions(self._s, query.app))
        if query.stuck:
            return await self._stuck(request, query, where, now)
        problem = ""
        if where.expression is not None:
            try:
                compile_expression(where.expression)
            except InletError as exc:
                problem = f"The expression can't be used: {exc.message}"
                where = replace(where, expression=None)
        page = await self._page(where, query, now)
        if page is None:
            query = replace(query, after="")
            page = await self._page(where, query, now) or Page(())
        ids = [run.id for run in page.runs]
        # A bounded number of reads per page, whatever its size: events, attempts, counts.
        events, counts_of, counts = await asyncio.gather(
            self._store.events_by_id([e for run in page.runs for e in run.event_ids]),
            self._store.attempt_counts(ids),
            self._store.run_counts(replace(where, statuses=(), expression=None)),
        )
        rows = [
            views.run_row(
                run,
                RunState(run, tuple(events[e] for e in run.event_ids if e in events), ()),
                None,
                now,
                counts_of.get(run.id, 0),
            )
            for run in page.runs
        ]
        apps = await self._store.list_apps()
        return html(
            request,
            "runs.html",
            section="runs",
            query=query,
            rows=rows,
            problem=problem,
            searched=page.searched,
            ended_early=bool(where.expression) and page.next is not None and len(rows) < PAGE,
            next_link=query.link(after=page.next) if page.next else "",
            first_link=query.link(after="") if query.after else "",
            functions=sorted(self._s.registry().functions),
            apps=sorted({a.app_id or a.url for a in apps}),
            statuses=[(s.value, views.status_name(s), counts.get(s, 0)) for s in RunStatus],
            total=sum(counts.values()),
            ranges=[(key, label) for key, label, _ in RANGES],
            live="/ui/stream?" + urlencode({"page": "runs", **_params(request)}),
        )

    async def _stuck(
        self, request: Request, query: RunQuery, where: RunFilter, now: float
    ) -> Response:
        """The runs with nothing left to move them, oldest first, of the chosen function or
        app; each with why, and for an admin a Cancel (the reaper revives them itself)."""
        found = await self._store.stuck_runs(now - STUCK_VIEW_AFTER, STUCK_SHOWN)
        chosen = replace(where, statuses=(), created_after=None, created_before=None, text=None)
        runs = [run for run in found if chosen.matches(run)]
        counts_of = await self._store.attempt_counts([run.id for run in runs])
        apps = await self._store.list_apps()
        return html(
            request,
            "stuck.html",
            section="runs",
            query=query,
            rows=[
                (views.run_row(run, None, None, now, counts_of.get(run.id, 0)), why(run, now))
                for run in runs
            ],
            more=len(found) >= STUCK_SHOWN,
            shown=STUCK_SHOWN,
            after=f"{STUCK_VIEW_AFTER / 60:g} min",
            revivals=MAX_REVIVALS,
            functions=sorted(self._s.registry().functions),
            apps=sorted({a.app_id or a.url for a in apps}),
            live="/ui/stream?" + urlencode({"page": "runs", **_params(request)}),
        )

    async def _page(self, where: RunFilter, query: RunQuery, now: float) -> Page | None:
        """The page of runs, or None when the cursor is not one (a stale link)."""
        try:
            return await search_runs(
                self._store, where, limit=PAGE, after=query.after or None, now=now
            )
        except InvalidValue:
            if not query.after:
                raise
            return None

    async def run(self, request: Request, error: str = "", status: int = 200) -> Response:
        run_id = request.path_params["run_id"]
        state, attempts, waits = await asyncio.gather(
            self._store.run_state(run_id),
            self._store.history(run_id),
            self._store.run_waits(run_id),
        )
        if state is None:
            return html(request, "missing.html", 404, what=f"run {run_id}", section="runs")
        run, now = state.run, self._clock.now()
        failure = (
            views.run_failure(run, state.memos, attempts)
            if run.status is RunStatus.FAILED
            else None
        )
        return html(
            request,
            "run.html",
            status,
            section="runs",
            error=error,
            run=run,
            row=views.run_row(run, state, attempts, now),
            failure=failure,
            bars=views.waterfall(run, attempts, now)[:MAX_SHOWN],
            hidden_bars=max(0, len(attempts) - MAX_SHOWN),
            steps=views.steps(state.memos[:MAX_SHOWN]),
            hidden_steps=max(0, len(state.memos) - MAX_SHOWN),
            waits=[views.wait_view(w, now) for w in waits] if not run.status.ended else [],
            events=[
                (e, views.when(e.received_at or e.ts / 1000), views.pretty(e.data))
                for e in state.events
            ],
            output=views.pretty(run.output) if run.status is RunStatus.COMPLETED else "",
            cancelled=run.error if run.status is RunStatus.CANCELLED else None,
            done=request.query_params.get("done", ""),
            rerun_of=request.query_params.get("of", ""),
            live=f"/ui/stream?run={run.id}" if not run.status.ended else "",
        )

    async def cancel(self, request: Request) -> Response:
        run_id = request.path_params["run_id"]
        who = principal_of(request.scope).label
        try:
            await self._s.canceller.cancel(run_id, f"cancelled from the dashboard by {who}")
        except (NotFound, Conflict) as exc:
            return html(request, "missing.html", exc.http_status, what=exc.message, section="runs")
        return RedirectResponse(f"/ui/runs/{run_id}?done=cancelled", status_code=303)

    async def rerun(self, request: Request) -> Response:
        """A new run like this one, from the start or from ``from_step`` (its earlier
        steps' outputs kept); the browser goes to the new run."""
        run_id = request.path_params["run_id"]
        from_step = (await form(request)).get("from_step", "").strip() or None
        try:
            new_id = await self._s.rerunner.rerun(run_id, self._clock.now(), from_step)
        except InletError as exc:
            return await self.run(request, f"Not rerun: {exc.message}", exc.http_status)
        return RedirectResponse(
            f"/ui/runs/{new_id}?" + urlencode({"done": "rerun", "of": run_id}), status_code=303
        )

    async def apps(self, request: Request, error: str = "", status: int = 200) -> Response:
        apps = await self._store.list_apps()
        functions = await self._store.list_functions()
        by_app = {a.url: sorted(f.slug for f in functions if f.app_url == a.url) for a in apps}
        now = self._clock.now()
        return html(
            request,
            "apps.html",
            status,
            section="apps",
            apps=[(a, by_app[a.url], views.ago(a.synced_at or None, now)) for a in apps],
            synced=request.query_params.get("synced", ""),
            error=error,
        )

    async def sync(self, request: Request) -> Response:
        url = (await form(request)).get("url", "").strip()
        if not url.startswith(("http://", "https://")) or len(url) > 2000:
            problem = (
                f"{url!r} is not an app's serve URL; expected one such as "
                "http://127.0.0.1:8000/api/inngest"
            )
            return await self.apps(request, problem, 400)
        error = await self._s.syncer.sync(url)
        if error is not None:
            return await self.apps(request, f"syncing {url} failed: {error}", 502)
        return RedirectResponse("/ui/apps?" + urlencode({"synced": app_url(url)}), status_code=303)


def why(run: Run, now: float) -> str:
    """Why a stuck run cannot move, in its own terms."""
    if run.started_at is None:
        return (
            f"Queued {views.ago(run.created_at, now)} and never called, but no call of it is "
            "in the queue: its first call was lost."
        )
    steps = f"{run.step_count} step{'' if run.step_count == 1 else 's'} done"
    return (
        f"Running since {views.ago(run.started_at, now)} ({steps}), but no call of it is "
        "queued or under way and it waits for nothing: its next call was lost."
    )


def _params(request: Request) -> dict[str, str]:
    keep = ("function", "app", "status", "range", "since", "until", "q", "expr", "stuck")
    return {k: v for k, v in request.query_params.items() if k in keep and v}
