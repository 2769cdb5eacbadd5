"""The dashboard's function pages: every function with its state at a glance, and one
function's triggers (a cron's next fires), flow control as configured and as it stands,
charts of its runs over time (these and its state update live: ``ui/stream.py``), and,
for an admin, pause and resume, invoke with a JSON payload ("Run now" for a cron) and
bulk replay or cancel (``ui/bulk.py``).

Its REST twins are ``GET /v1/functions[/{slug}]``, ``POST /v1/functions/{slug}/invoke``,
``/pause`` and ``/resume``: the same code computes and does the same things."""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlencode

import orjson
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from inlet.api.functions import cron_v1, spec_v1
from inlet.errors import InletError
from inlet.model import Function, RunStatus
from inlet.store.operations import PAUSED
from inlet.store.queries import RunFilter
from inlet.ui import charts, views
from inlet.ui.render import form, html
from inlet.ui.services import Services

WINDOWS: Final = (
    ("1h", "Last hour", 3600.0, 300.0),
    ("24h", "Last 24 hours", 86_400.0, 3600.0),
    ("7d", "Last 7 days", 7 * 86_400.0, 6 * 3600.0),
)
"""A chart's span and its bucket width, by key."""
BULK_SHOWN: Final = 10


@dataclass(frozen=True, slots=True)
class Row:
    fn: Function
    paused: str
    next_fire: str
    runs: int
    success: str
    p50: str


def flow_facts(flow: dict[str, Any] | None) -> list[tuple[str, str]]:
    """The flow-control settings a function has (those left unset are not shown)."""
    facts = []
    for key, value in (flow or {}).items():
        if value in (None, (), [], {}, 0, False):
            continue
        text = orjson.dumps(value).decode() if not isinstance(value, str) else value
        facts.append((key.replace("_", " ").capitalize(), text))
    return facts


def _fires(fn: Function, now: float) -> list[dict[str, Any]]:
    return [cron_v1(t.cron, t.jitter, now) for t in fn.triggers if t.cron]


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


class FunctionPages:
    def __init__(self, services: Services) -> None:
        self._s = services
        self._store = services.store

    async def index(self, request: Request) -> Response:
        now = self._s.clock.now()
        functions = sorted(self._s.registry().functions.values(), key=lambda f: f.slug)
        paused, stats = await asyncio.gather(
            self._store.paused_functions(),
            self._store.function_stats(None, now - 86_400, now, 86_400),
        )
        by_slug = {s.function_slug: s.total for s in stats}
        rows = []
        for fn in functions:
            total = by_slug.get(fn.slug)
            fires = [
                t
                for c in _fires(fn, now)
                for f in c["next_fires"]
                if f and (t := views.parse_iso(f)) is not None
            ]
            rows.append(
                Row(
                    fn=fn,
                    paused=views.ago(paused[fn.slug], now) if fn.slug in paused else "",
                    next_fire=views.fire(min(fires), now) if fires else "",
                    runs=sum(total.counts.values()) if total else 0,
                    success=_rate(total.success_rate if total else None),
                    p50=views.duration(total.p50) if total else "-",
                )
            )
        return html(request, "functions.html", section="functions", rows=rows)

    async def detail(
        self, request: Request, error: str = "", status: int = 200, data: str = ""
    ) -> Response:
        slug = request.path_params["slug"]
        fn = self._s.registry().get(slug)
        if fn is None:
            what = f"function {slug} is not registered (sync its app)"
            return html(request, "missing.html", 404, what=what, section="functions")
        now = self._s.clock.now()
        key = request.query_params.get("window", "24h")
        window = next((w for w in WINDOWS if w[0] == key), WINDOWS[1])
        span, width = window[2], window[3]
        until = math.ceil(now / width) * width
        active = (RunStatus.QUEUED, RunStatus.RUNNING)
        paused, skipped, flow, counts, stats, ops = await asyncio.gather(
            self._store.paused_functions(),
            self._store.count_skipped(slug, PAUSED, None, now),
            self._store.flow_now(slug, now),
            self._store.run_counts(RunFilter(function_slug=slug, statuses=active)),
            self._store.function_stats(slug, until - span, until, width),
            self._s.bulk.list(),
        )
        found = stats[0] if stats else None
        buckets = list(found.buckets) if found else []
        if not buckets:
            buckets = [
                views.empty_bucket(until - span + i * width) for i in range(int(span // width))
            ]
        spec = spec_v1(fn)
        return html(
            request,
            "function.html",
            status,
            section="functions",
            fn=fn,
            now=now,
            paused=views.when(paused[slug]) if slug in paused else "",
            paused_ago=views.ago(paused[slug], now) if slug in paused else "",
            skipped=skipped,
            crons=[
                (c, [views.fire(views.parse_iso(f), now) for f in c["next_fires"] if f])
                for c in _fires(fn, now)
            ],
            flow=flow_facts(spec["flow"]),
            spec=spec,
            state=flow,
            concurrency=[
                (k, flow.in_flight.get(k, 0), flow.waiting.get(k, 0))
                for k in sorted(flow.in_flight.keys() | flow.waiting.keys())
            ],
            active={s.value: counts.get(s, 0) for s in active},
            gates=[(g, views.until(g.tat, now) if g.tat else "") for g in flow.gates],
            window=window[0],
            windows=[(k, label) for k, label, _, _ in WINDOWS],
            total=found.total if found else None,
            total_runs=sum(found.total.counts.values()) if found else 0,
            rate=_rate(found.total.success_rate if found else None),
            p50=views.duration(found.total.p50) if found else "-",
            p95=views.duration(found.total.p95) if found else "-",
            runs_chart=charts.runs_chart(buckets, width),
            rate_chart=charts.rate_chart(buckets, width),
            duration_chart=charts.duration_chart(buckets, width),
            ops=[views.bulk_view(op, now) for op in ops if op.function_slug == slug][:BULK_SHOWN],
            since_default=views.local_input(now - 86_400),
            statuses=[*(s.v1_name for s in RunStatus), "Skipped"],
            done=request.query_params.get("done", ""),
            error=error,
            data=data or "{}",
            live="/ui/stream?" + urlencode({"function": slug}),
        )

    async def pause(self, request: Request) -> Response:
        slug = request.path_params["slug"]
        cancel = (await form(request)).get("cancel_running") == "on"
        try:
            await self._s.pauser.pause(slug, cancel_running=cancel)
        except InletError as exc:
            return await self.detail(request, exc.message, exc.http_status)
        return RedirectResponse(f"/ui/functions/{slug}?done=paused", status_code=303)

    async def resume(self, request: Request) -> Response:
        slug = request.path_params["slug"]
        try:
            await self._s.pauser.resume(slug)
        except InletError as exc:
            return await self.detail(request, exc.message, exc.http_status)
        return RedirectResponse(f"/ui/functions/{slug}?done=resumed", status_code=303)

    async def invoke(self, request: Request) -> Response:
        """Run the function now with the form's JSON object as its event's data; the
        browser goes to the new run, or stays with the reason none started."""
        slug = request.path_params["slug"]
        text = (await form(request)).get("data", "").strip() or "{}"
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            problem = f"The data is not valid JSON ({exc}); expected an object such as {{}}"
            return await self.detail(request, problem, 400, text)
        if not isinstance(data, dict):
            problem = f"The data is {text[:60]}, not a JSON object; expected one such as {{}}"
            return await self.detail(request, problem, 400, text)
        try:
            invoked = await self._s.invoker.invoke(slug, data, {}, self._s.clock.now(), "ui")
        except InletError as exc:
            return await self.detail(request, exc.message, exc.http_status, text)
        if not invoked.run_ids:
            reasons = "; ".join(s.reason for s in invoked.skipped) or "no run was made"
            return await self.detail(request, f"No run started: {reasons}", 409, text)
        return RedirectResponse(f"/ui/runs/{invoked.run_ids[0]}?done=invoked", status_code=303)
