"""The alerts loop: every :data:`INTERVAL` seconds the leader of the ``alerts`` job
evaluates the rules (``inlet.alerts.rules``) over store reads, fires and resolves alerts
in the store (an alert fires once: the store refuses a second firing of the same rule and
subject), then delivers what the outbox still owes.

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
from inlet.alerts.rules import (
    APP_UNREACHABLE,
    FUNCTION_FAILING,
    Clear,
    Decision,
    Rules,
    failing_function,
    queue_late,
    unreachable_app,
)
from inlet.clock import Clock
from inlet.ids import new_ulid
from inlet.model import Function, RunStatus
from inlet.store import Store
from inlet.store.alerts import Alert, Delivery
from inlet.store.queries import RunFilter

log = logging.getLogger("inlet.alerts")

INTERVAL = 10.0
"""Seconds between two evaluations (and delivery rounds)."""
BATCH = 50
"""Deliveries attempted at once per round."""
TIMEOUT = 10.0
"""Seconds one webhook POST may take."""
FINISHED = (RunStatus.COMPLETED, RunStatus.FAILED)


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
            await self._clock.sleep(INTERVAL)
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
        decisions: list[Decision] = []
        functions = list(self._functions())
        for function in functions:
            page = await self._store.runs(
                RunFilter(function_slug=function.slug, statuses=FINISHED),
                limit=self._rules.failing_runs,
            )
            found = failing_function(function, page.runs, self._rules, self._base_url)
            if found is not None:
                decisions.append(found)
        decisions.append(queue_late(await self._store.queue_stats(now), now, self._rules))
        apps = await self._store.list_apps()
        decisions.extend(unreachable_app(app) for app in apps)
        # A function or app that is gone no longer fails: its alert resolves.
        present = {
            FUNCTION_FAILING: {f.slug for f in functions},
            APP_UNREACHABLE: {a.url for a in apps},
        }
        for alert in await self._store.list_alerts(state="firing", limit=1000):
            known = present.get(alert.rule)
            if known is not None and alert.subject not in known:
                decisions.append(Clear(alert.rule, alert.subject))
        changed: list[Decision] = []
        for decision in decisions:
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
