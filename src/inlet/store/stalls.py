"""The reads behind the alerts that watch for things standing still: runs that made no
progress, events that started no run, apps failing to sync since when
(``memory_stalls.py`` and ``sql/stalls.py`` fill them).

Each is a bounded read of indexed rows, made by the leader of the ``alerts`` job once a
round (``inlet.alerts``)."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Final, Literal

from inlet.model import Run

Pending = Literal["", "due", "parked", "lease_expired"]
"""What a quiet run's queue holds: nothing (``""``), a call due, a call parked for a
concurrency slot, or a call whose worker's lease ran out."""

RUN_TIMEOUT_STEP: Final = "timeout:"
"""The step id prefix of a run's own timeout timers, which are no work of the run's."""


@dataclass(frozen=True, slots=True)
class QuietRun:
    """A run in flight with no sign of progress since ``last_at``: no attempt ended, no
    step recorded, no queue item or wait due, since then; nor any wait still ahead."""

    run: Run
    last_at: float
    pending: Pending = ""


@dataclass(frozen=True, slots=True)
class SkipTally:
    """Events of ``event_name`` that started no run of ``function_slug`` for ``reason``:
    how many, the first and last skipped."""

    function_slug: str
    event_name: str
    reason: str
    count: int
    first_at: float
    last_at: float


class StallReads(abc.ABC):
    @abc.abstractmethod
    async def quiet_runs(self, before: float, limit: int = 100) -> list[QuietRun]:
        """Runs not ended that show no progress at or after ``before``, oldest first: no
        attempt ended, no memo recorded, and no queue item due (a sleep's timer, a retry,
        a delayed start) nor wait expiring (a ``waitForEvent``, an invoke) at or after it.
        A run's timeout timer and its ``cancelOn`` listeners do not count. A call in flight
        keeps its item's lease ahead, so its run is not quiet until the lease runs out."""

    @abc.abstractmethod
    async def skip_tally(self, since: float) -> list[SkipTally]:
        """The events skipped at or after ``since``, counted per function, event name and
        reason (the name is ``""`` when the event is gone)."""

    @abc.abstractmethod
    async def app_errors_since(self) -> dict[str, float]:
        """``url -> since when`` for every app whose sync is failing: the time of the first
        failure after its last success."""


def pending_of(has_due: bool, parked: bool, lease_expired: bool) -> Pending:
    if lease_expired:
        return "lease_expired"
    if parked:
        return "parked"
    return "due" if has_due else ""
