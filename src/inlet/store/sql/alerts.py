"""Alerts and their outbox in SQL (``inlet.store.alerts``), mixed into ``RelationalStore``:
the statements of ``alerts.sql``, each verb one transaction of the store thread."""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, TypeVar

import orjson

from inlet.store.alerts import (
    Alert,
    AlertState,
    Delivery,
    DeliveryKind,
    DeliveryState,
    alert_state,
    delivery_id,
    delivery_kind,
)
from inlet.store.sql.tx import Connection, Cursor

T = TypeVar("T")


def _alert_from(row: Sequence[Any]) -> Alert:
    alert_id, rule, subject, state, fired_at, resolved_at, summary = row
    return Alert(
        id=alert_id,
        rule=rule,
        subject=subject,
        state=alert_state(state),
        fired_at=fired_at,
        resolved_at=resolved_at,
        summary=MappingProxyType(orjson.loads(summary)),
    )


def _delivery_from(row: Sequence[Any]) -> Delivery:
    row_id, kind, target, attempts, next_at, delivered_at, last_error = row[:7]
    return Delivery(
        id=row_id,
        alert=_alert_from(row[7:]),
        kind=delivery_kind(kind),
        target=target,
        attempts=attempts,
        next_at=next_at,
        delivered_at=delivered_at,
        last_error=last_error,
    )


class SqlAlerts:
    """Needs the store's ``_call`` (reads), ``_write`` (writes), ``_x``, ``_q`` and ``_conn``."""

    _q: Mapping[str, str]

    @property
    @abc.abstractmethod
    def _conn(self) -> Connection: ...

    @abc.abstractmethod
    async def _call(self, fn: Callable[..., T], *args: Any) -> T: ...

    @abc.abstractmethod
    async def _write(self, fn: Callable[..., T], *args: Any) -> T: ...

    @abc.abstractmethod
    def _x(self, name: str, args: Sequence[Any] = ()) -> Cursor: ...

    def _alert_rows(self, name: str, args: Sequence[Any]) -> list[Any]:
        return list(self._x(name, args).fetchall())

    def _queue_deliveries(
        self, alert_id: str, kind: DeliveryKind, targets: Sequence[str], now: float
    ) -> None:
        for n, target in enumerate(targets):
            self._x("queue_delivery", (delivery_id(alert_id, kind, n), alert_id, kind, target, now))

    async def fire(self, alert: Alert, targets: Sequence[str], now: float) -> bool:
        return await self._write(self._fire, alert, list(targets), now)

    def _fire(self, alert: Alert, targets: list[str], now: float) -> bool:
        summary = orjson.dumps(dict(alert.summary)).decode()
        args = (alert.id, alert.rule, alert.subject, alert.fired_at, summary)
        if self._x("fire_alert", args).rowcount == 0:
            return False
        self._queue_deliveries(alert.id, "fired", targets, now)
        return True

    async def resolve(self, rule: str, subject: str, now: float, targets: Sequence[str]) -> bool:
        return await self._write(self._resolve, rule, subject, now, list(targets))

    def _resolve(self, rule: str, subject: str, now: float, targets: list[str]) -> bool:
        found = self._x("firing_alert", (rule, subject)).fetchone()
        if found is None or self._x("resolve_alert", (now, found[0])).rowcount == 0:
            return False
        self._queue_deliveries(found[0], "resolved", targets, now)
        return True

    async def due_deliveries(self, now: float, limit: int) -> list[Delivery]:
        rows = await self._call(self._alert_rows, "due_deliveries", (now, limit))
        return [_delivery_from(row) for row in rows]

    async def mark_delivered(self, delivery_id: str, now: float) -> bool:
        return await self._write(self._changed, "mark_delivered", (now, delivery_id))

    async def mark_failed(self, delivery_id: str, error: str, next_at: float) -> bool:
        return await self._write(self._changed, "mark_failed", (error, next_at, delivery_id))

    def _changed(self, name: str, args: Sequence[Any]) -> bool:
        return self._x(name, args).rowcount > 0

    async def alert_deliveries(self, alert_ids: Sequence[str]) -> list[DeliveryState]:
        ids = list(dict.fromkeys(alert_ids))
        if not ids:
            return []
        return await self._call(self._alert_deliveries, ids)

    def _alert_deliveries(self, ids: list[str]) -> list[DeliveryState]:
        sql = self._q["alert_deliveries"].replace("{marks}", ",".join("?" * len(ids)))
        return [
            DeliveryState(row_id, alert_id, delivery_kind(kind), *rest)
            for row_id, alert_id, kind, *rest in self._conn.execute(sql, ids).fetchall()
        ]

    async def list_alerts(self, state: AlertState | None = None, limit: int = 50) -> list[Alert]:
        if state is None:
            rows = await self._call(self._alert_rows, "list_alerts", (limit,))
        else:
            rows = await self._call(self._alert_rows, "list_alerts_in", (state, limit))
        return [_alert_from(row) for row in rows]
