"""How many steps wait, per function and kind, read from the database for ``/metrics``
(``memory_waiting.py`` and ``sql/waiting.py`` fill it): the sleeps, the waits for an event
and the invokes of runs that have not ended. Every process sharing the database reads the
same values, so the gauge is aggregated with ``max``, never summed."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Final, Literal

WaitKind = Literal["sleep", "event", "invoke"]

WAIT_KINDS: Final[tuple[WaitKind, ...]] = ("sleep", "event", "invoke")
"""``sleep``: a ``step.sleep``'s timer; ``event``: a ``step.waitForEvent``'s listener;
``invoke``: a ``step.invoke``'s listener (waiting for the child run to finish)."""


@dataclass(frozen=True, slots=True)
class WaitCount:
    function_slug: str
    kind: WaitKind
    count: int


class WaitReads(abc.ABC):
    @abc.abstractmethod
    async def wait_counts(self) -> list[WaitCount]:
        """The steps waiting now, per function and kind, by function then kind (none at
        zero). A run's own timeout timers, its ``cancelOn`` listeners and the timers that
        bound a wait or an invoke are not counted: one step, one wait. A run that ended has
        none. Read at each scrape, from the queue's timers and the listeners only."""
