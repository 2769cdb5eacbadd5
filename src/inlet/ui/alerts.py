"""The dashboard's alerts: the page of alerts the rules fired (``inlet.alerts``), firing
and resolved, newest first, and the count of those firing that the navigation shows on
every page.

Both read ``store.list_alerts``, as ``GET /v1/alerts`` does: one read a page."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from inlet.alerts.deliver import shown
from inlet.alerts.rules import (
    APP_UNREACHABLE,
    EVENTS_NO_RUNS,
    FUNCTION_FAILING,
    QUEUE_LATE,
    RUN_NO_PROGRESS,
)
from inlet.clock import Clock
from inlet.store import Store
from inlet.store.alerts import ALERT_STATES, Alert, AlertState, DeliveryState
from inlet.ui import views
from inlet.ui.guard import PRINCIPAL, STREAM
from inlet.ui.render import COUNTED, FIRING, html

SHOWN: Final = 200
"""Alerts one page lists (the newest)."""
RULES: Final = {
    FUNCTION_FAILING: "Function failing",
    QUEUE_LATE: "Queue late",
    APP_UNREACHABLE: "App unreachable",
    RUN_NO_PROGRESS: "Run not progressing",
    EVENTS_NO_RUNS: "Events start no run",
}
"""Each rule's name for people; a rule not listed shows as it is."""


@dataclass(frozen=True, slots=True)
class DeliveryView:
    target: str
    kind: str
    state: str
    """``delivered``, or ``retrying`` after failed attempts, or ``pending``."""
    detail: str


def delivery_view(row: DeliveryState, now: float) -> DeliveryView:
    if row.delivered_at is not None:
        tries = "" if row.attempts <= 1 else f" after {row.attempts} attempts"
        return DeliveryView(
            shown(row.target), row.kind, "delivered", f"{views.ago(row.delivered_at, now)}{tries}"
        )
    if row.attempts:
        due = "now" if row.next_at <= now else f"in {views.duration(row.next_at - now)}"
        error = f": {row.last_error}" if row.last_error else ""
        detail = f"{row.attempts} failed attempts{error}; next {due}"
        return DeliveryView(shown(row.target), row.kind, "retrying", detail)
    return DeliveryView(shown(row.target), row.kind, "pending", "not sent yet")


@dataclass(frozen=True, slots=True)
class AlertView:
    id: str
    state: str
    rule: str
    subject: str
    message: str
    function: str
    app: str
    error: str
    run_id: str
    doing: str
    events: tuple[str, ...]
    fired: str
    fired_ago: str
    resolved: str
    lasted: str
    deliveries: tuple[DeliveryView, ...] = ()


def _text(summary: Mapping[str, Any], key: str) -> str:
    value = summary.get(key)
    return str(value) if value not in (None, "") else ""


def _names(value: Any) -> tuple[str, ...]:
    """The event name or names an alert is about."""
    if isinstance(value, str) and value:
        return (value,)
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value if v)
    return ()


def alert_view(alert: Alert, now: float, deliveries: Sequence[DeliveryState] = ()) -> AlertView:
    summary = alert.summary
    ended = alert.resolved_at if alert.resolved_at is not None else now
    return AlertView(
        id=alert.id,
        state=alert.state,
        rule=RULES.get(alert.rule, alert.rule),
        subject=alert.subject,
        message=_text(summary, "message"),
        function=_text(summary, "function"),
        app=_text(summary, "app_id") or _text(summary, "app"),
        error=_text(summary, "error"),
        run_id=_text(summary, "run_id"),
        doing=_text(summary, "doing"),
        events=_names(summary.get("event")),
        fired=views.when(alert.fired_at),
        fired_ago=views.ago(alert.fired_at, now),
        resolved=views.when(alert.resolved_at) if alert.resolved_at is not None else "",
        lasted=views.duration(max(0.0, ended - alert.fired_at)),
        deliveries=tuple(delivery_view(row, now) for row in deliveries),
    )


class AlertPages:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def index(self, request: Request) -> Response:
        raw = request.query_params.get("state", "").lower()
        state: AlertState | None = next((s for s in ALERT_STATES if s == raw), None)
        now = self._clock.now()
        alerts = await self._store.list_alerts(state, SHOWN)
        by_alert: dict[str, list[DeliveryState]] = {}
        for row in await self._store.alert_deliveries([a.id for a in alerts]):
            by_alert.setdefault(row.alert_id, []).append(row)
        return html(
            request,
            "alerts.html",
            section="alerts",
            state=state or "",
            states=[("", "All"), ("firing", "Firing"), ("resolved", "Resolved")],
            alerts=[alert_view(a, now, by_alert.get(a.id, ())) for a in alerts],
            shown=SHOWN,
        )


class FiringCount:
    """ASGI middleware behind the guard: puts the number of firing alerts in the request's
    state for a page's navigation (one read a page; the live stream and files skip it)."""

    def __init__(self, app: ASGIApp, store: Store) -> None:
        self._app = app
        self._store = store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Only for someone the guard let in: the login page tells a stranger nothing.
        if (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and PRINCIPAL in scope.get("state", {})
            and scope["path"] != STREAM
        ):
            firing = await self._store.list_alerts("firing", COUNTED)
            scope.setdefault("state", {})[FIRING] = len(firing)
        await self._app(scope, receive, send)
