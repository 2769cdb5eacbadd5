"""Accepting events (``POST /e/{key}``): validate them, then apply them with the runs they
start, the waits they resolve and the runs they cancel, atomically.

Requests that arrive while an earlier one is being applied wait for it and are then
applied together (``Applier.apply_each``): routed at once and stored in one store call,
so 32 concurrent single-event requests cost one transaction and one statement per table
instead of 32 of each. A request that finds nothing in flight is applied at once, so an
unloaded request waits for nobody. If the combined apply fails, each request of it is
applied alone, so an error reaches only the request that caused it.

The next group is routed while the one before it is stored: routing is the event loop's
work and storing the store thread's, which keeps their order, and the requests of the
next group arrived before the previous one was answered, so no order between them was
promised. At most two groups are in flight.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from inlet.clock import Clock
from inlet.config import Settings
from inlet.errors import EventInvalid
from inlet.events.validate import parse_events
from inlet.metrics import Metrics
from inlet.model import Event
from inlet.runs.apply import Applier

log = logging.getLogger("inlet.events")

MAX_GROUPED_EVENTS = 1_000
"""At most this many events are applied together (a request above it goes alone)."""


@dataclass(frozen=True, slots=True)
class Accepted:
    ids: tuple[str, ...]
    runs: int
    error: EventInvalid | None


@dataclass(frozen=True, slots=True)
class _Waiting:
    events: Sequence[Event]
    started: asyncio.Future[tuple[str, ...]]
    """The runs the events started, once applied."""


class Ingestor:
    def __init__(
        self, settings: Settings, clock: Clock, applier: Applier, metrics: Metrics | None = None
    ) -> None:
        self._settings = settings
        self._metrics = metrics or Metrics()
        self._clock = clock
        self._applier = applier
        self._waiting: list[_Waiting] = []
        self._applying: asyncio.Task[None] | None = None

    async def accept(self, body: bytes, seed: str | None) -> Accepted:
        """Store every valid event before the first invalid one; report that one."""
        parsed = parse_events(
            body,
            seed=seed,
            now=self._clock.now(),
            max_event_bytes=self._settings.max_event_bytes,
            max_events=self._settings.max_events_per_request,
        )
        if not parsed.events:
            return Accepted((), 0, parsed.error)
        runs = await self._apply(parsed.events)
        self._metrics.events_received(len(parsed.events))
        log.debug("events.accepted", extra={"events": len(parsed.events), "runs": len(runs)})
        return Accepted(tuple(e.internal_id for e in parsed.events), len(runs), parsed.error)

    async def _apply(self, events: Sequence[Event]) -> tuple[str, ...]:
        started: asyncio.Future[tuple[str, ...]] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(events, started))
        if self._applying is None or self._applying.done():
            self._applying = asyncio.create_task(self._apply_waiting())
        return await started

    async def _apply_waiting(self) -> None:
        """Apply what waits, a group at a time, until nothing does; a group is taken once
        the one before it is routed and the one before that is stored."""
        in_flight: list[tuple[list[_Waiting], asyncio.Task[None]]] = []
        try:
            while self._waiting or in_flight:
                group = self._take()
                if not group:
                    await in_flight.pop(0)[1]
                    continue
                routed = asyncio.Event()
                applying = asyncio.create_task(self._apply_group(group, routed))
                in_flight.append((group, applying))
                routing = asyncio.create_task(routed.wait())
                await asyncio.wait((routing, applying), return_when=asyncio.FIRST_COMPLETED)
                routing.cancel()
                if len(in_flight) > 1:
                    await in_flight.pop(0)[1]
        except BaseException:
            # Cancelled (the server stops): nobody is left waiting for an answer forever.
            for group, applying in in_flight:
                applying.cancel()
                for waiting in group:
                    waiting.started.cancel()
            for waiting in self._waiting:
                waiting.started.cancel()
            self._waiting.clear()
            raise

    def _take(self) -> list[_Waiting]:
        """The requests waiting, in order, up to ``MAX_GROUPED_EVENTS`` events (one at
        least), without those whose caller went away."""
        group: list[_Waiting] = []
        size = 0
        while self._waiting and (
            not group or size + len(self._waiting[0].events) <= MAX_GROUPED_EVENTS
        ):
            waiting = self._waiting.pop(0)
            if waiting.started.done():  # its request went away before it was applied
                continue
            group.append(waiting)
            size += len(waiting.events)
        return group

    async def _apply_group(self, group: list[_Waiting], routed: asyncio.Event) -> None:
        """Apply the group; ``routed`` is set once its events are routed (or it ends)."""
        try:
            await self._apply_routed(group, routed)
        finally:
            routed.set()

    async def _apply_routed(self, group: list[_Waiting], routed: asyncio.Event) -> None:
        if len(group) > 1:
            try:
                runs = await self._applier.apply_each(
                    [w.events for w in group], self._clock.now(), routed
                )
            except Exception:  # each request then hears its own outcome, applied alone
                log.debug("events.apply_each_failed", exc_info=True)
            else:
                for waiting, started in zip(group, runs, strict=True):
                    _settle(waiting, started)
                return
        for waiting in group:
            try:
                result = await self._applier.apply(waiting.events, self._clock.now(), routed=routed)
            except Exception as exc:  # delivered to the request's own await
                if not waiting.started.done():
                    waiting.started.set_exception(exc)
            else:
                _settle(waiting, result.run_ids)


def _settle(waiting: _Waiting, started: tuple[str, ...]) -> None:
    if not waiting.started.done():
        waiting.started.set_result(started)
