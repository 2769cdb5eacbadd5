"""Accepting events (``POST /e/{key}``): validate them, then apply them with the runs they
start, the waits they resolve and the runs they cancel, atomically."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from inlet.clock import Clock
from inlet.config import Settings
from inlet.errors import EventInvalid
from inlet.events.validate import parse_events
from inlet.metrics import Metrics
from inlet.runs.apply import Applier

log = logging.getLogger("inlet.events")


@dataclass(frozen=True, slots=True)
class Accepted:
    ids: tuple[str, ...]
    runs: int
    error: EventInvalid | None


class Ingestor:
    def __init__(
        self, settings: Settings, clock: Clock, applier: Applier, metrics: Metrics | None = None
    ) -> None:
        self._settings = settings
        self._metrics = metrics or Metrics()
        self._clock = clock
        self._applier = applier

    async def accept(self, body: bytes, seed: str | None) -> Accepted:
        """Store every valid event before the first invalid one; report that one."""
        now = self._clock.now()
        parsed = parse_events(
            body,
            seed=seed,
            now=now,
            max_event_bytes=self._settings.max_event_bytes,
            max_events=self._settings.max_events_per_request,
        )
        if not parsed.events:
            return Accepted((), 0, parsed.error)
        result = await self._applier.apply(parsed.events, now)
        self._metrics.events_received(len(parsed.events))
        log.debug(
            "events.accepted", extra={"events": len(parsed.events), "runs": len(result.run_ids)}
        )
        return Accepted(
            tuple(e.internal_id for e in parsed.events), len(result.run_ids), parsed.error
        )
