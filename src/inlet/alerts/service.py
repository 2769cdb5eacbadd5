"""The alerts loop: every ``interval`` seconds (:data:`INTERVAL` by default) the leader of
the ``alerts`` job evaluates the rules over store reads (``checks.py``), fires and
resolves alerts in the store (an alert fires once: the store refuses a second firing of
the same rule and subject), then delivers what the outbox still owes.

Firing and its deliveries are stored in one transaction, so an alert recorded before a
crash is delivered after the restart; a delivery is marked only after a 2xx, and retried
with :func:`~inlet.alerts.deliver.backoff` until then.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence

import httpx

from inlet.alerts import deliver
from inlet.alerts.checks import Checks
from inlet.alerts.rules import INTERVAL, Clear, Decision, Rules
from inlet.clock import Clock
from inlet.ids import new_ulid
from inlet.model import Function
from inlet.store import Store
from inlet.store.alerts import Alert, Delivery

log = logging.getLogger("inlet.alerts")

__all__ = ["INTERVAL", "AlertService"]

BATCH = 50
"""Deliveries attempted at once per round."""
TIMEOUT = 10.0
"""Seconds one webhook POST may take."""


class AlertService:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        functions: Callable[[], Iterable[Function]],
        targets: Sequence[str],
        base_url: str,
        *,
        rules: Rules | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._functions = functions
        self._targets = tuple(targets)
        self._base_url = base_url
        self._rules = rules or Rules()
        self._checks = Checks(store, functions, base_url, self._rules)
        self.transport = transport
        """How webhooks are reached (None: the network); tests give an ``httpx.MockTransport``."""
        self._task: asyncio.Task[None] | None = None

    @property
    def alive(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="inlet-alerts")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _loop(self) -> None:
        while True:
            await self._clock.sleep(self._rules.interval)
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("alerts.tick_failed")

    async def tick(self) -> None:
        """One round, if this process leads the ``alerts`` job: evaluate, then deliver."""
        if not await self._store.lead("alerts"):
            return
        await self.evaluate()
        await self.deliver()

    async def evaluate(self) -> list[Decision]:
        """Apply every rule now; returns the decisions that changed an alert."""
        now = self._clock.now()
        firing = {(a.rule, a.subject): a for a in await self._store.list_alerts("firing", 1000)}
        changed: list[Decision] = []
        for decision in await self._checks.decide(now, firing):
            if await self._apply(decision, now):
                changed.append(decision)
        return changed

    async def _apply(self, decision: Decision, now: float) -> bool:
        if isinstance(decision, Clear):
            if not await self._store.resolve(decision.rule, decision.subject, now, self._targets):
                return False
            log.warning(
                "alert.resolved", extra={"rule": decision.rule, "subject": decision.subject}
            )
            return True
        alert = Alert(
            id=new_ulid(now),
            rule=decision.rule,
            subject=decision.subject,
            state="firing",
            fired_at=now,
            summary=decision.summary,
        )
        if not await self._store.fire(alert, self._targets, now):
            return False
        fields = {k: decision.summary.get(k) for k in ("function", "app", "error", "run_url")}
        log.warning(
            "alert.fired",
            extra={"alert": alert.id, "rule": alert.rule, "subject": alert.subject, **fields},
        )
        return True

    async def deliver(self) -> int:
        """Attempt the deliveries due now; returns how many were made."""
        due = await self._store.due_deliveries(self._clock.now(), BATCH)
        if not due:
            return 0
        async with httpx.AsyncClient(
            transport=self.transport, timeout=TIMEOUT, follow_redirects=False
        ) as client:
            made = await asyncio.gather(*(self._deliver(client, d) for d in due))
        return sum(made)

    async def _deliver(self, client: httpx.AsyncClient, delivery: Delivery) -> bool:
        error = await deliver.post(client, delivery)
        now = self._clock.now()
        if error is None:
            await self._store.mark_delivered(delivery.id, now)
            log.info("alert.delivered", extra={"delivery": delivery.id, "target": delivery.target})
            return True
        attempts = delivery.attempts + 1
        await self._store.mark_failed(delivery.id, error, now + deliver.backoff(attempts))
        log.warning(
            "alert.delivery_failed",
            extra={
                "delivery": delivery.id,
                "target": delivery.target,
                "attempts": attempts,
                "error": error,
            },
        )
        return False
