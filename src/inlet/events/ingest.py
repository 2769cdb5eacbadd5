"""Accepting events: validate, store, and start the runs they trigger, atomically."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from inlet.clock import Clock
from inlet.config import Settings
from inlet.errors import EventInvalid
from inlet.events.router import Router
from inlet.events.validate import parse_events
from inlet.store import Store

log = logging.getLogger("inlet.events")


@dataclass(frozen=True, slots=True)
class Accepted:
    ids: tuple[str, ...]
    runs: int
    error: EventInvalid | None


class Ingestor:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        clock: Clock,
        router: Router,
        on_enqueued: Callable[[], None],
    ) -> None:
        self._store = store
        self._settings = settings
        self._clock = clock
        self._router = router
        self._on_enqueued = on_enqueued

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
        routed = await self._router.route(parsed.events, now)
        result = await self._store.ingest(
            parsed.events,
            routed.runs,
            now,
            self._settings.event_dedupe_seconds,
            routed.resumes,
            routed.cancels,
        )
        if result.run_ids or result.resumed or result.cancelled:
            self._on_enqueued()
        log.debug(
            "events.accepted", extra={"events": len(parsed.events), "runs": len(result.run_ids)}
        )
        return Accepted(
            tuple(e.internal_id for e in parsed.events), len(result.run_ids), parsed.error
        )
