"""Time as a value that is passed in, so pure code never reads the wall clock.

The services (the executor, the cron loop) also *wait* through the clock: ``sleep`` and
``wait``. With the ``SystemClock`` that is plain asyncio; with the ``FakeClock`` a wait
ends only when a test moves time past its deadline, so sleeps, timeouts, cron fires and
back-offs can be tested without sleeping (see ``inlet.testing``).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Return once ``seconds`` of this clock's time have passed."""
        ...

    async def wait(self, event: asyncio.Event, seconds: float) -> bool:
        """Return when ``event`` is set or ``seconds`` of this clock's time have
        passed, whichever is first; True if the event was set."""
        ...


class SystemClock:
    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def wait(self, event: asyncio.Event, seconds: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), seconds)
        return event.is_set()


class FakeClock:
    """A clock that moves only when told to.

    ``advance`` and ``set`` end every ``sleep`` and ``wait`` whose deadline has passed; the
    waiting tasks resume at the event loop's next turns, so a test follows a move with a
    settle (``inlet.testing.InletTest.settle``) before it looks at the result.
    """

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._now = start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"a clock cannot go back: advance({seconds}); expected >= 0")
        self.set(self._now + seconds)

    def set(self, instant: float) -> None:
        """Move to ``instant`` (not before now) and end the waits that are due by then."""
        if instant < self._now:
            raise ValueError(f"a clock cannot go back from {self._now} to {instant}")
        self._now = instant
        while self._sleepers and self._sleepers[0][0] <= instant:
            _, _, future = heapq.heappop(self._sleepers)
            if not future.done():
                future.set_result(None)

    def next_deadline(self) -> float | None:
        """The earliest time a task waiting on this clock wants to wake, if any."""
        while self._sleepers and self._sleepers[0][2].done():
            heapq.heappop(self._sleepers)
        return self._sleepers[0][0] if self._sleepers else None

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        alarm = self._alarm(self._now + seconds)
        try:
            await alarm
        finally:
            alarm.cancel()

    async def wait(self, event: asyncio.Event, seconds: float) -> bool:
        if event.is_set() or seconds <= 0:
            await asyncio.sleep(0)
            return event.is_set()
        alarm = self._alarm(self._now + seconds)
        woken = asyncio.ensure_future(event.wait())
        try:
            await asyncio.wait((alarm, woken), return_when=asyncio.FIRST_COMPLETED)
        finally:
            alarm.cancel()
            woken.cancel()
            await asyncio.gather(woken, return_exceptions=True)
        return event.is_set()

    def _alarm(self, deadline: float) -> asyncio.Future[None]:
        """A future that ``set`` resolves at ``deadline``. Registered before the caller
        first awaits, so a move of the clock right after the call is never missed."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (deadline, next(self._order), future))
        return future
