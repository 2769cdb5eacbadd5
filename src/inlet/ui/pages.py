"""The dashboard's pages: runs (filtered, keyset-paged), one run (what failed, the
waterfall of attempts, step outputs, the triggering event, cancel), functions, events,
and apps (sync one, sync a new one by URL).

Reads go through the store's read model; a runs page costs a fixed number of reads
whatever its size (the page, its counts, the states and histories of its runs, at most
:data:`PAGE` each). Changes go through the services the REST API uses."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Final
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from inlet.clock import Clock
from inlet.errors import Conflict, InvalidValue, NotFound
from inlet.model import RunStatus
from inlet.runs.cancel import Canceller
from inlet.runs.registry import Registry
from inlet.store import Store
from inlet.store.queries import RunFilter
from inlet.sync.register import app_url
from inlet.sync.syncer import Syncer
from inlet.ui import views
from inlet.ui.guard import principal_of
from inlet.ui.render import form, html

PAGE: Final = 50
RANGES: Final = (
    ("15m", "Last 15 minutes", 900.0),
    ("1h", "Last hour", 3600.0),
    ("24h", "Last 24 hours", 86_400.0),
    ("7d", "Last 7 days", 7 * 86_400.0),
    ("30d", "Last 30 days", 30 * 86_400.0),
    ("all", "Any time", 0.0),
)
EVENTS_SHOWN: Final = 100
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
        )

    def where(self, now: float) -> RunFilter:
        seconds = next(s for key, _, s in RANGES if key == self.range)
        return RunFilter(
            function_slug=self.function or None,
            statuses=(RunStatus(self.status),) if self.status else (),
            created_after=now - seconds if seconds else None,
            text=self.text or None,
        )

    def link(self, **changes: str) -> str:
        values = {
            "function": self.function,
            "status": self.status,
            "range": self.range,
            "q": self.text,
            "after": self.after,
        }
        values.update(changes)
        return "/ui/runs?" + urlencode({k: v for k, v in values.items() if v})


class Pages:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        canceller: Canceller,
        syncer: Syncer,
        registry: Callable[[], Registry],
    ) -> None:
        self._store = store
        self._clock = clock
        self._canceller = canceller
        self._syncer = syncer
        self._registry = registry

    async def home(self, request: Request) -> Response:
        return RedirectResponse("/ui/runs", status_code=303)

    async def runs(self, request: Request) -> Response:
        query = RunQuery.of(request)
        now = self._clock.now()
        where = query.where(now)
        try:
            page = await self._store.runs(where, limit=PAGE, after=query.after or None)
        except InvalidValue:
            page = await self._store.runs(where, limit=PAGE)
            query = RunQuery(query.function, query.status, query.range, query.text)
        ids = [run.id for run in page.runs]
        states = {s.run.id: s for s in await self._store.run_states(ids)}
        # One history read per run of the page (at most PAGE); the read model has no
        # batched attempt counts yet.
        histories = await asyncio.gather(*(self._store.history(i) for i in ids))
        counts = await self._store.run_counts(replace(where, statuses=()))
        rows = [
            views.run_row(run, states.get(run.id), history, now)
            for run, history in zip(page.runs, histories, strict=True)
        ]
        return html(
            request,
            "runs.html",
            section="runs",
            query=query,
            rows=rows,
            next_link=query.link(after=page.next) if page.next else "",
            first_link=query.link(after="") if query.after else "",
            functions=sorted(self._registry().functions),
            statuses=[(s.value, views.status_name(s), counts.get(s, 0)) for s in RunStatus],
            total=sum(counts.values()),
            ranges=[(key, label) for key, label, _ in RANGES],
            live="/ui/stream?" + urlencode({"page": "runs", **_params(request)}),
        )

    async def run(self, request: Request) -> Response:
        run_id = request.path_params["run_id"]
        state, attempts = await asyncio.gather(
            self._store.run_state(run_id), self._store.history(run_id)
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
            section="runs",
            run=run,
            row=views.run_row(run, state, attempts, now),
            failure=failure,
            bars=views.waterfall(run, attempts, now)[:MAX_SHOWN],
            hidden_bars=max(0, len(attempts) - MAX_SHOWN),
            steps=views.steps(state.memos[:MAX_SHOWN]),
            hidden_steps=max(0, len(state.memos) - MAX_SHOWN),
            events=[
                (e, views.when(e.received_at or e.ts / 1000), views.pretty(e.data))
                for e in state.events
            ],
            output=views.pretty(run.output) if run.status is RunStatus.COMPLETED else "",
            cancelled=run.error if run.status is RunStatus.CANCELLED else None,
            live=f"/ui/stream?run={run.id}" if not run.status.ended else "",
        )

    async def cancel(self, request: Request) -> Response:
        run_id = request.path_params["run_id"]
        who = principal_of(request.scope).label
        try:
            await self._canceller.cancel(run_id, f"cancelled from the dashboard by {who}")
        except (NotFound, Conflict) as exc:
            return html(request, "missing.html", exc.http_status, what=exc.message, section="runs")
        return RedirectResponse(f"/ui/runs/{run_id}?done=cancelled", status_code=303)

    async def functions(self, request: Request) -> Response:
        registry = self._registry()
        functions = sorted(registry.functions.values(), key=lambda f: f.slug)
        return html(request, "functions.html", section="functions", functions=functions)

    async def events(self, request: Request) -> Response:
        name = request.query_params.get("name", "").strip() or None
        found = await self._store.list_events(name, EVENTS_SHOWN)
        now = self._clock.now()
        rows = [
            (e, views.ago(e.received_at or e.ts / 1000, now), views.pretty(e.data)[:400])
            for e in found
        ]
        return html(request, "events.html", section="events", rows=rows, name=name or "")

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
        error = await self._syncer.sync(url)
        if error is not None:
            return await self.apps(request, f"syncing {url} failed: {error}", 502)
        return RedirectResponse("/ui/apps?" + urlencode({"synced": app_url(url)}), status_code=303)


def _params(request: Request) -> dict[str, str]:
    keep = ("function", "status", "range", "q")
    return {k: v for k, v in request.query_params.items() if k in keep and v}
