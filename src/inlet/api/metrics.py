"""``GET /metrics``: the Prometheus text format of one process.

Two kinds of series. What this process did (events received, runs started and ended,
call durations, errors, skips) is counted in ``inlet.metrics`` and summed over instances
by Prometheus. What the database holds (queue depth, the oldest due item, waiting and
active runs, the steps waiting by kind, the alerts firing) is read from the store at each
scrape, so every process sharing a database reports the same value: aggregate those with
``max``, never ``sum``. Every series is listed in ``docs/metrics.md``.

The store is async and prometheus-client's ``collect()`` is not: the handler awaits the
read first, hands the values to :class:`DatabaseGauges`, and renders at once, with no
``await`` in between, so two scrapes never mix their values.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Final

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response

from inlet.alerts.rules import RULES
from inlet.clock import Clock
from inlet.metrics import Metrics
from inlet.store import Store
from inlet.store.queries import QueueStats
from inlet.store.waiting import WAIT_KINDS, WaitCount

log = logging.getLogger("inlet.api.metrics")

READ_TIMEOUT: Final = 5.0
"""Seconds the store may take to answer a scrape's read before the gauges are left out."""
MAX_FIRING: Final = 1000
"""The most firing alerts one scrape reads (one per rule and subject: a few, normally)."""


class DatabaseGauges(Collector):
    """The database-wide gauges, with the values the handler read just before rendering."""

    def __init__(self) -> None:
        self._stats: Sequence[QueueStats] = ()
        self._waits: dict[tuple[str, str], int] = {}
        self._firing: dict[str, int] = {}
        self._now = 0.0
        self._up = False

    def set(
        self,
        stats: Sequence[QueueStats] | None,
        waits: Sequence[WaitCount],
        firing: dict[str, int],
        now: float,
    ) -> None:
        """The values of the next render (``stats`` None: the store did not answer)."""
        self._up = stats is not None
        self._stats = stats or ()
        self._waits = {(w.function_slug, w.kind): w.count for w in waits}
        self._firing = firing
        self._now = now

    def collect(self) -> Iterable[GaugeMetricFamily]:
        up = GaugeMetricFamily(
            "inlet_store_up", "1 if the store answered this scrape's read, else 0."
        )
        up.add_metric([], 1.0 if self._up else 0.0)
        yield up
        depth = GaugeMetricFamily(
            "inlet_queue_depth",
            "Items due and not taken, per function: what workers should scale on (database-"
            "wide: the same on every process, aggregate with max).",
            labels=["function"],
        )
        oldest = GaugeMetricFamily(
            "inlet_queue_oldest_due_age_seconds",
            "Seconds the longest-waiting due item has waited, per function (database-wide).",
            labels=["function"],
        )
        parked = GaugeMetricFamily(
            "inlet_queue_parked",
            "Due items waiting for a concurrency slot, per function (database-wide).",
            labels=["function"],
        )
        delayed = GaugeMetricFamily(
            "inlet_runs_delayed",
            "Runs not started whose first call is held until later (a throttle, a debounce, "
            "a delay), per function (database-wide).",
            labels=["function"],
        )
        waiting = GaugeMetricFamily(
            "inlet_runs_waiting",
            "Runs that only wait (a sleep, an event, an invoke), per function (database-wide).",
            labels=["function"],
        )
        active = GaugeMetricFamily(
            "inlet_runs_active",
            "Runs queued or running, per function and status (database-wide).",
            labels=["function", "status"],
        )
        for s in self._stats:
            fn = [s.function_slug]
            depth.add_metric(fn, s.due)
            age = 0.0 if s.oldest_due_at is None else max(self._now - s.oldest_due_at, 0.0)
            oldest.add_metric(fn, age)
            parked.add_metric(fn, s.parked)
            delayed.add_metric(fn, s.delayed)
            waiting.add_metric(fn, s.waiting)
            active.add_metric([*fn, "queued"], s.queued)
            active.add_metric([*fn, "running"], s.running)
        yield from (depth, oldest, parked, delayed, waiting, active)
        if self._up:
            steps = GaugeMetricFamily(
                "inlet_steps_waiting",
                "Steps waiting, per function and kind: sleep, event (waitForEvent), invoke "
                "(database-wide).",
                labels=["function", "kind"],
            )
            slugs = {s.function_slug for s in self._stats} | {fn for fn, _ in self._waits}
            for slug in sorted(slugs):
                for kind in WAIT_KINDS:
                    steps.add_metric([slug, kind], self._waits.get((slug, kind), 0))
            yield steps
            alerts = GaugeMetricFamily(
                "inlet_alerts_firing",
                "Alerts firing, per rule (database-wide; each names its subject in "
                "GET /v1/alerts).",
                labels=["rule"],
            )
            for rule in sorted({*RULES, *self._firing}):
                alerts.add_metric([rule], self._firing.get(rule, 0))
            yield alerts


class MetricsAPI:
    """The handler; ``functions`` are the registered slugs, reported at 0 when nothing of
    theirs is queued (an autoscaler reads a 0, not a missing series)."""

    def __init__(
        self, store: Store, clock: Clock, metrics: Metrics, functions: Callable[[], Iterable[str]]
    ) -> None:
        self._store = store
        self._clock = clock
        self._metrics = metrics
        self._functions = functions
        self._gauges = DatabaseGauges()
        metrics.registry.register(self._gauges)

    async def scrape(self, request: Request) -> Response:
        now = self._clock.now()
        stats: list[QueueStats] | None
        waits: list[WaitCount] = []
        firing: dict[str, int] = {}
        try:
            async with asyncio.timeout(READ_TIMEOUT):
                stats = await self._store.queue_stats(now)
                waits = await self._store.wait_counts()
                for alert in await self._store.list_alerts("firing", MAX_FIRING):
                    firing[alert.rule] = firing.get(alert.rule, 0) + 1
        except Exception as exc:
            log.warning("metrics.store_failed", extra={"error": type(exc).__name__})
            stats = None
        if stats is not None:
            known = {s.function_slug for s in stats}
            stats += [QueueStats(slug) for slug in self._functions() if slug not in known]
            stats.sort(key=lambda s: s.function_slug)
        self._gauges.set(stats, waits, firing, now)
        body = generate_latest(self._metrics.registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)
