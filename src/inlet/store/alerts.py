"""Alerts as the store keeps them: an alert fires once per ``(rule, subject)`` until it
resolves, and each change of state leaves one row per webhook target in an outbox that a
delivery loop works through (retried until delivered, kept across restarts); and the
in-memory tables behind ``MemoryStore``'s verbs for both."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any, Final, Literal

from inlet.errors import StoreError

AlertState = Literal["firing", "resolved"]
DeliveryKind = Literal["fired", "resolved"]

ALERT_STATES: Final[tuple[AlertState, ...]] = ("firing", "resolved")
DELIVERY_KINDS: Final[tuple[DeliveryKind, ...]] = ("fired", "resolved")


@dataclass(frozen=True, slots=True)
class Alert:
    """One firing of ``rule`` about ``subject`` (a function's slug, an app's URL, ``queue``).

    ``summary`` is what a person needs to act: the function, the app, the first line of
    the error, the run and its link, and a one-line ``message``."""

    id: str
    rule: str
    subject: str
    state: AlertState
    fired_at: float
    summary: Mapping[str, Any]
    resolved_at: float | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    """An outbox row: the news that ``alert`` fired or resolved, still owed to ``target``.

    Its ``id`` (``<alert id>.<kind>.<n>``) is stable across retries and restarts: receivers
    drop a repeat by it (delivery is at least once)."""

    id: str
    alert: Alert
    kind: DeliveryKind
    target: str
    attempts: int
    next_at: float
    delivered_at: float | None = None
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class DeliveryState:
    """Where one outbox row stands, for people: delivered, or how many attempts failed and
    why, and when the next one is due."""

    id: str
    alert_id: str
    kind: DeliveryKind
    target: str
    attempts: int
    next_at: float
    delivered_at: float | None
    last_error: str | None


def delivery_id(alert_id: str, kind: DeliveryKind, index: int) -> str:
    return f"{alert_id}.{kind}.{index}"


def alert_state(value: str) -> AlertState:
    for known in ALERT_STATES:
        if value == known:
            return known
    raise StoreError(f"alert state {value!r} is unknown; expected one of {ALERT_STATES}")


def delivery_kind(value: str) -> DeliveryKind:
    for known in DELIVERY_KINDS:
        if value == known:
            return known
    raise StoreError(f"alert delivery kind {value!r} is unknown; expected one of {DELIVERY_KINDS}")


@dataclass(slots=True)
class _Outbox:
    id: str
    alert_id: str
    kind: DeliveryKind
    target: str
    attempts: int
    next_at: float
    delivered_at: float | None = None
    last_error: str | None = None


class MemoryAlerts:
    """The ``alerts`` and ``alert_outbox`` tables as dicts, mixed into ``MemoryStore``."""

    def __init__(self) -> None:
        self._alerts: dict[str, Alert] = {}
        self._outbox: dict[str, _Outbox] = {}

    def _firing(self, rule: str, subject: str) -> Alert | None:
        for alert in self._alerts.values():
            if alert.rule == rule and alert.subject == subject and alert.state == "firing":
                return alert
        return None

    def _queue(self, alert_id: str, kind: DeliveryKind, targets: Sequence[str], now: float) -> None:
        for n, target in enumerate(targets):
            row_id = delivery_id(alert_id, kind, n)
            self._outbox[row_id] = _Outbox(row_id, alert_id, kind, target, 0, now)

    async def fire(self, alert: Alert, targets: Sequence[str], now: float) -> bool:
        if self._firing(alert.rule, alert.subject) is not None:
            return False
        if alert.id in self._alerts:
            raise StoreError(f"alert {alert.id!r} is already stored")
        self._alerts[alert.id] = replace(
            alert, state="firing", resolved_at=None, summary=MappingProxyType(dict(alert.summary))
        )
        self._queue(alert.id, "fired", targets, now)
        return True

    async def resolve(self, rule: str, subject: str, now: float, targets: Sequence[str]) -> bool:
        alert = self._firing(rule, subject)
        if alert is None:
            return False
        self._alerts[alert.id] = replace(alert, state="resolved", resolved_at=now)
        self._queue(alert.id, "resolved", targets, now)
        return True

    async def due_deliveries(self, now: float, limit: int) -> list[Delivery]:
        due = [
            row for row in self._outbox.values() if row.delivered_at is None and row.next_at <= now
        ]
        due.sort(key=lambda row: (row.next_at, row.id))
        return [
            Delivery(
                id=row.id,
                alert=self._alerts[row.alert_id],
                kind=row.kind,
                target=row.target,
                attempts=row.attempts,
                next_at=row.next_at,
                delivered_at=row.delivered_at,
                last_error=row.last_error,
            )
            for row in due[:limit]
        ]

    async def mark_delivered(self, delivery_id: str, now: float) -> bool:
        row = self._outbox.get(delivery_id)
        if row is None or row.delivered_at is not None:
            return False
        row.attempts += 1
        row.delivered_at = now
        return True

    async def mark_failed(self, delivery_id: str, error: str, next_at: float) -> bool:
        row = self._outbox.get(delivery_id)
        if row is None or row.delivered_at is not None:
            return False
        row.attempts += 1
        row.last_error = error
        row.next_at = next_at
        return True

    async def alert_deliveries(self, alert_ids: Sequence[str]) -> list[DeliveryState]:
        wanted = set(alert_ids)
        rows = sorted(
            (row for row in self._outbox.values() if row.alert_id in wanted),
            key=lambda row: (row.alert_id, row.id),
        )
        return [
            DeliveryState(
                row.id,
                row.alert_id,
                row.kind,
                row.target,
                row.attempts,
                row.next_at,
                row.delivered_at,
                row.last_error,
            )
            for row in rows
        ]

    async def list_alerts(self, state: AlertState | None = None, limit: int = 50) -> list[Alert]:
        found = [a for a in self._alerts.values() if state is None or a.state == state]
        found.sort(key=lambda a: (a.fired_at, a.id), reverse=True)
        return found[:limit]
