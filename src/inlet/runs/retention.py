"""Retention: finished runs, their history and old events are deleted once they are older
than a time limit, a function's own limit or the global one (``--retention``,
``--retention-for``).

Whichever process leads the ``retention`` job sweeps every ``interval``: a batch of
``BATCH`` runs at a time per function with a limit of its own, then for every other
function, each batch one short transaction (``Store.purge``) with a pause between two so
the writes of runs in flight keep their turn. Runs in flight are never touched; the store
keeps every event a run or a waiting step may still need.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from inlet.clock import Clock
from inlet.store import Store
from inlet.store.retention import PurgeResult

log = logging.getLogger("inlet.retention")

BATCH = 500
"""Runs (and events, and run keys) one transaction deletes at most."""
PAUSE = 0.01
"""Seconds between two batches of a sweep: the writer's other work goes first."""
MAX_BATCHES = 1000
"""Batches in one sweep at most (500,000 runs); the next sweep carries on."""
INTERVAL = 60.0
"""Seconds between two sweeps, at most (a short limit sweeps more often)."""


class Retention:
    """Deletes what is older than its limit. A limit of 0 keeps everything."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        default: float,
        per_function: Mapping[str, float] | None = None,
        *,
        batch: int = BATCH,
    ) -> None:
        self._store = store
        self._clock = clock
        self._default = default
        self._per_function = dict(per_function or {})
        self._batch = batch
        self._task: asyncio.Task[None] | None = None
        limits = [s for s in (default, *self._per_function.values()) if s > 0]
        self.interval = min(INTERVAL, max(1.0, min(limits) / 10)) if limits else 0.0
        """Seconds between two sweeps; 0 when every limit is off (no loop)."""

    async def start(self) -> None:
        if self.interval > 0:
            self._task = asyncio.create_task(self._loop(), name="inlet-retention")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _loop(self) -> None:
        while True:
            try:
                if await self._store.lead("retention"):
                    await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("retention.failed")
            await self._clock.sleep(self.interval)

    async def sweep(self) -> PurgeResult:
        """Delete everything past its limit now, batch by batch (up to ``MAX_BATCHES``)."""
        now = self._clock.now()
        total = PurgeResult()
        budget = MAX_BATCHES
        for slug, seconds in self._per_function.items():
            if seconds > 0:
                done, budget = await self._batches(now - seconds, now, budget, slug, ())
                total += done
        if self._default > 0:
            keep = tuple(self._per_function)
            done, budget = await self._batches(now - self._default, now, budget, None, keep)
            total += done
        if total != PurgeResult():
            log.info(
                "retention.swept",
                extra={"runs": total.runs, "events": total.events, "attempts": total.attempts},
            )
        return total

    async def _batches(
        self, before: float, now: float, budget: int, slug: str | None, exclude: tuple[str, ...]
    ) -> tuple[PurgeResult, int]:
        total = PurgeResult()
        while budget > 0:
            budget -= 1
            done = await self._store.purge(
                before, self._batch, now, function_slug=slug, exclude=exclude
            )
            total += done
            if max(done.runs, done.events, done.keys) < self._batch:
                break
            await asyncio.sleep(PAUSE)
        return total, budget
