"""The cron service: turns due cron fires into events and runs.

Each fire has a deterministic run key (``cron:<fn>:<time>``) and event id, so a restart or
a second process never makes one twice. A cursor per (function, schedule) records how far
fires were made; missed fires (the server was down) are all made on the way back, oldest
first, as Inngest does (see ``inlet.scheduler.cron``). A schedule seen for the first time
starts with its first fire after now.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from inlet.clock import Clock
from inlet.errors import InvalidValue
from inlet.ids import derived_ulid
from inlet.model import Event, NewRun
from inlet.runs.apply import Applier
from inlet.runs.registry import Registry
from inlet.scheduler.cron import CronSchedule, due_fires, fire_key, jittered, next_fire, parse_cron
from inlet.store import Store

log = logging.getLogger("inlet.scheduler")

SCHEDULED = "inngest/scheduled.timer"
MAX_SLEEP = 1.0
"""Longest sleep between looks: a newly synced cron is seen within a second."""
LEAD_RETRY = 5.0
"""Seconds between attempts to become the cron leader while another process is."""


def cron_event(slug: str, schedule: CronSchedule, fire_at: float, run_at: float) -> Event:
    key = fire_key(slug, fire_at)
    scheduled = datetime.fromtimestamp(fire_at, UTC).isoformat(timespec="milliseconds")
    scheduled = scheduled.replace("+00:00", "Z")
    internal = derived_ulid(fire_at, key)
    return Event(
        internal_id=internal,
        name=SCHEDULED,
        data={"cron": schedule.expression, "scheduledAt": scheduled, "fireAt": int(run_at * 1000)},
        id=scheduled,
        ts=int(run_at * 1000),
        received_at=fire_at,
    )


class Scheduler:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        registry: Callable[[], Registry],
        applier: Applier,
    ) -> None:
        self._store = store
        self._clock = clock
        self._registry = registry
        self._applier = applier
        self._task: asyncio.Task[None] | None = None
        self._bad: set[tuple[str, str]] = set()
        self._sleeping = False

    @property
    def idle(self) -> bool:
        """Between ticks, waiting for the clock: what a test's settle waits for."""
        return self._sleeping

    @property
    def alive(self) -> bool:
        """Its loop runs: started, and not ended by an error (``/health/ready``)."""
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="inlet-cron")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _loop(self) -> None:
        while True:
            try:
                wake = await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("cron.tick_failed")
                wake = self._clock.now() + MAX_SLEEP
            self._sleeping = True
            try:
                # Through the clock, so a test's fake clock decides when the next tick is.
                await self._clock.sleep(min(max(wake - self._clock.now(), 0.01), MAX_SLEEP))
            finally:
                self._sleeping = False

    async def tick(self) -> float:
        """Make every due fire; returns when the next one is due."""
        now = self._clock.now()
        registry = self._registry()
        if not registry.crons():
            return now + MAX_SLEEP  # nothing to fire: no reason to touch the store
        if not await self._store.lead("cron"):
            # Another process makes the fires; take over if it goes away.
            return now + LEAD_RETRY
        cursors = await self._store.cron_cursors()
        soonest = now + MAX_SLEEP
        for fn, trigger in registry.crons():
            assert trigger.cron is not None
            schedule = self._schedule(fn.slug, trigger.cron, trigger.jitter)
            if schedule is None:
                continue
            cursor = cursors.get((fn.slug, schedule.expression))
            if cursor is None:
                await self._store.set_cron_cursor(fn.slug, schedule.expression, now)
                cursor = now
            fires = due_fires(schedule, cursor, now)
            if fires:
                runs: list[NewRun] = []
                events = []
                for fire_at in fires:
                    key = fire_key(fn.slug, fire_at)
                    run_at = jittered(schedule, fire_at, key)
                    event = cron_event(fn.slug, schedule, fire_at, run_at)
                    events.append(event)
                    runs.append(registry.plan_cron(fn, event, key, max(run_at, now), now))
                # Cron events may also resolve waits or cancel runs that listen for them.
                await self._applier.apply(events, now, runs=runs)
                await self._store.set_cron_cursor(fn.slug, schedule.expression, fires[-1])
                log.info("cron.fired", extra={"function": fn.slug, "fires": len(fires)})
                cursor = fires[-1]
            soonest = min(soonest, next_fire(schedule, max(cursor, now)))
        return soonest

    def _schedule(self, slug: str, spec: str, jitter: str | None) -> CronSchedule | None:
        try:
            return parse_cron(spec, jitter)
        except InvalidValue as exc:
            if (slug, spec) not in self._bad:
                self._bad.add((slug, spec))
                log.error("cron.invalid", extra={"function": slug, "reason": exc.message})
            return None
