"""``GET /v1/alerts``: the alerts the rules fired (``inlet.alerts``), newest first."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from inlet.alerts.deliver import shown
from inlet.api import params
from inlet.api.render import iso, wrapped
from inlet.clock import Clock
from inlet.errors import BadRequest
from inlet.store import Store
from inlet.store.alerts import ALERT_STATES, Alert, AlertState, DeliveryState

MAX_ALERTS = 500


def delivery_v1(row: DeliveryState) -> dict[str, Any]:
    return {
        "target": shown(row.target),
        "kind": row.kind,
        "attempts": row.attempts,
        "delivered_at": iso(row.delivered_at),
        "next_at": None if row.delivered_at is not None else iso(row.next_at),
        "last_error": row.last_error,
    }


def alert_v1(alert: Alert, deliveries: Sequence[DeliveryState] = ()) -> dict[str, Any]:
    summary = dict(alert.summary)
    return {
        "id": alert.id,
        "rule": alert.rule,
        "subject": alert.subject,
        "state": alert.state,
        "fired_at": iso(alert.fired_at),
        "resolved_at": iso(alert.resolved_at),
        "message": summary.get("message"),
        "function": summary.get("function"),
        "app": summary.get("app"),
        "error": summary.get("error"),
        "run_id": summary.get("run_id"),
        "run_url": summary.get("run_url"),
        "summary": summary,
        "deliveries": [delivery_v1(row) for row in deliveries],
    }


def state_param(raw: str | None) -> AlertState | None:
    if not raw:
        return None
    for known in ALERT_STATES:
        if raw.lower() == known:
            return known
    raise BadRequest(f"state={raw!r} is not an alert state; expected one of {ALERT_STATES}")


class AlertsAPI:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def list_alerts(self, request: Request) -> Response:
        """``?state=firing|resolved&limit=N``."""
        query = request.query_params
        state = state_param(query.get("state"))
        alerts = await self._store.list_alerts(
            state, params.limit(query, default=50, maximum=MAX_ALERTS)
        )
        rows = await self._store.alert_deliveries([a.id for a in alerts])
        by_alert: dict[str, list[DeliveryState]] = {}
        for row in rows:
            by_alert.setdefault(row.alert_id, []).append(row)
        body = [alert_v1(a, by_alert.get(a.id, ())) for a in alerts]
        return wrapped(body, self._clock.now())
