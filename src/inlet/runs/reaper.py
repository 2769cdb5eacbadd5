"""The reaper: runs that can no longer move (not ended, but no queued work and no wait
left: what a crash, a lost item or a bug leaves behind) are found and handled, so nobody
finds 21 stuck jobs by hand.

A stuck run is first revived: given a discovery call, so the SDK carries it on from its
memos (steps that completed are not run again). A run found stuck again after
:data:`MAX_REVIVALS` revivals is cancelled with a reason that says so, visible in its
history and on the dashboard. One process leads the ``reaper`` job; the clock is a
parameter, so tests move time instead of sleeping.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from inlet.clock import Clock
from inlet.runs.apply import Applier
from inlet.store import Store

log = logging.getLogger("inlet.reaper")

INTERVAL = 60.0
"""Seconds between two looks for stuck runs."""
MAX_REVIVALS = 2
"""Revivals after which a run found stuck again is cancelled."""
BATCH = 100


class Reaper:
    def __init__(
        self,
        store: Store,
        applier: Applier,
        clock: Clock,
        wake: Callable[[], None],
        grace: float,
    ) -> None:
        self._store = store
        self._applier = applier
        self._clock = clock
        self._wake = wake
        self._grace = grace
        """Seconds a run must have existed before it counts as stuck."""
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="inlet-reaper")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _loop(self) -> None:
        while True:
            # A short grace (a test, an impatient operator) is looked at more often.
            await self._clock.sleep(min(INTERVAL, max(1.0, self._grace / 2)))
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("reaper.sweep_failed")

    async def sweep(self) -> tuple[list[str], list[str]]:
        """Handle the stuck runs found now: the ids revived and the ids cancelled."""
        if not await self._store.lead("reaper"):
            return [], []
        now = self._clock.now()
        revived: list[str] = []
        cancelled: list[str] = []
        for run in await self._store.stuck_runs(now - self._grace, BATCH):
            history = await self._store.history(run.id)
            times = sum(1 for a in history if a.outcome == "revived")
            if times >= MAX_REVIVALS:
                reason = (
                    f"stuck: the run had no queued work and no wait left {times + 1} times, "
                    f"after {times} revivals; it was cancelled by the reaper"
                )
                if await self._applier.cancel(run.id, reason, now):
                    cancelled.append(run.id)
                    log.warning("reaper.cancelled", extra={"run_id": run.id})
            elif await self._store.revive(run.id, now):
                revived.append(run.id)
                log.warning("reaper.revived", extra={"run_id": run.id, "times": times + 1})
        if revived:
            self._wake()
        return revived, cancelled
