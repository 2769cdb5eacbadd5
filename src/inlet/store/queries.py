"""The read model: what the REST API, GraphQL and the dashboard ask of a store.

One protocol, filled by every backend (``MemoryStore`` in Python, the SQL stores with
named queries), so a new page or endpoint needs no new store verb of its own. Reads never
change anything and take no part in the engine's transactions. Aggregation that is the
same for every backend (buckets, success rates, percentiles) is pure and lives here.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from inlet.errors import InvalidValue
from inlet.model import App, Attempt, Event, Function, Run, RunState, RunStatus, SkipRecord
from inlet.store.outcomes import EventOutcome

MAX_PAGE = 500
"""The most runs one page returns, whatever the caller asks for."""
MAX_EVENT_PAGE = 1000
"""The most events one page returns (an event is smaller than a run with its output)."""
MAX_STATS_RUNS = 100_000
"""The most runs one statistics read looks at (the newest of the window are dropped)."""


@dataclass(frozen=True, slots=True)
class RunFilter:
    """Which runs: of a function (or of any of ``functions``: an app's), in some statuses,
    created in ``[after, before)``, and whose id, function, output or error contains
    ``text`` (case-insensitive). ``expression`` (over ``event``, ``output``, ``error``) is
    for ``inlet.store.search``: the stores' own reads ignore it."""

    function_slug: str | None = None
    functions: tuple[str, ...] = ()
    statuses: tuple[RunStatus, ...] = ()
    created_after: float | None = None
    created_before: float | None = None
    text: str | None = None
    expression: str | None = None

    def matches(self, run: Run) -> bool:
        """The filter in Python, for the backends that do not speak SQL."""
        if self.function_slug is not None and run.function_slug != self.function_slug:
            return False
        if self.functions and run.function_slug not in self.functions:
            return False
        if self.statuses and run.status not in self.statuses:
            return False
        if self.created_after is not None and run.created_at < self.created_after:
            return False
        if self.created_before is not None and run.created_at >= self.created_before:
            return False
        if self.text:
            needle = self.text.lower()
            # What the SQL stores search: the id, the function and the stored JSON text.
            stored = [orjson.dumps(v).decode() for v in (run.output, run.error) if v is not None]
            haystack = (run.id, run.function_slug, *stored)
            return any(needle in part.lower() for part in haystack)
        return True


@dataclass(frozen=True, slots=True)
class Page:
    """Runs newest first; ``next`` is the cursor of the following page (None: last)."""

    runs: tuple[Run, ...]
    next: str | None = None
    searched: int = 0
    """Runs an expression search looked at for this page (0: no expression). A search
    stops after a bounded number; ``next`` then carries on from the last one looked at,
    even if the page is not full."""


def page_size(limit: int, maximum: int = MAX_PAGE) -> int:
    if limit < 1:
        raise InvalidValue(f"limit={limit} is not a page size; expected 1 to {maximum}")
    return min(limit, maximum)


def paged(runs: Sequence[Run], limit: int) -> Page:
    """The page of ``limit`` runs out of ``runs`` (read with one more than ``limit``)."""
    if len(runs) > limit:
        return Page(tuple(runs[:limit]), runs[limit - 1].id)
    return Page(tuple(runs))


@dataclass(frozen=True, slots=True)
class Wait:
    """Something a run waits for, with its deadline: a ``sleep`` ends, a ``wait`` for an
    event or an ``invoke`` of another function times out, a ``cancel_on`` event stops
    listening, a run ``timeout`` (start or finish) strikes."""

    step_id: str
    kind: str
    until: float
    name: str = ""
    event: str | None = None
    expression: str | None = None


def waits_of(
    listeners: Iterable[tuple[str, str, str | None, str, float]],
    timers: Iterable[tuple[str, float, str, Any]],
) -> list[Wait]:
    """A run's waits from its listener rows ``(kind, event, expression, step, expires)``
    and timer rows ``(step, due, name, payload)``, soonest first. A wait's or invoke's
    timer is its deadline, not a wait of its own."""
    names = {step: name for step, _, name, _ in timers}
    found = [
        Wait(
            step,
            "cancel_on" if kind == "cancel" else kind,
            until,
            names.get(step, ""),
            event,
            expression,
        )
        for kind, event, expression, step, until in listeners
    ]
    listened = {w.step_id for w in found}
    for step, due, name, payload in timers:
        if step in listened:
            continue
        kind = "timeout" if isinstance(payload, dict) and "timeout" in payload else "sleep"
        found.append(Wait(step, kind, due, name))
    return sorted(found, key=lambda w: (w.until, w.step_id))


@dataclass(frozen=True, slots=True)
class GateNow:
    """One flow-control gate of a function, for one key, as it stands: a throttle's or
    rate limit's theoretical arrival time, or the run a debounce or batch collects into."""

    gate: str
    key: str
    tat: float | None
    run_id: str | None
    size: int


@dataclass(frozen=True, slots=True)
class FlowNow:
    """A function's flow control as it stands: calls holding a concurrency slot and calls
    parked for one, by key (its function-scoped keys, ``fn:<slug>[:<digest>]``); runs
    queued but not yet due (held back by throttle, debounce or a delay); and its gates."""

    in_flight: dict[str, int]
    waiting: dict[str, int]
    delayed: int
    gates: tuple[GateNow, ...]


def concurrency_range(function_slug: str) -> tuple[str, str, str]:
    """The function's own concurrency key and the bounds of its keyed ones
    (``fn:<slug>:<digest>``): ``key = ? OR (key > ? AND key < ?)``."""
    own = f"fn:{function_slug}"
    return own, own + ":", own + ";"


@dataclass(frozen=True, slots=True)
class QueueStats:
    """One function's share of the queue and of the active runs at a moment, read from the
    database: every process sharing it reads the same values (``/metrics``)."""

    function_slug: str
    due: int = 0
    """Items due: waiting for a worker (a lease that expired counts, a parked item not)."""
    oldest_due_at: float | None = None
    """When the longest-waiting of those became due."""
    parked: int = 0
    """Items due but parked until a concurrency slot frees."""
    waiting: int = 0
    """Active runs with nothing to call, only timers: a sleep, a wait for an event, an
    invoke (each has a timeout timer)."""
    queued: int = 0
    """Runs whose first call has not started."""
    delayed: int = 0
    """Of those, the runs whose first call is held until later: a throttle, a debounce,
    a delay or a negative priority moved it (the store keeps no reason)."""
    running: int = 0


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Which events: of a name, received in ``[after, before)``."""

    name: str | None = None
    received_after: float | None = None
    received_before: float | None = None

    def matches(self, event: Event) -> bool:
        return (
            (self.name is None or event.name == self.name)
            and (self.received_after is None or event.received_at >= self.received_after)
            and (self.received_before is None or event.received_at < self.received_before)
        )


@dataclass(frozen=True, slots=True)
class EventPage:
    """Events newest first (by internal id); ``next`` is the following page's cursor."""

    events: tuple[Event, ...]
    next: str | None = None


def events_paged(events: Sequence[Event], limit: int) -> EventPage:
    """The page of ``limit`` events out of ``events`` (read with one more than ``limit``)."""
    if len(events) > limit:
        return EventPage(tuple(events[:limit]), events[limit - 1].internal_id)
    return EventPage(tuple(events))


@dataclass(frozen=True, slots=True)
class EventDetail:
    """An event with the runs it started and why it started no run of other functions."""

    event: Event
    runs: tuple[Run, ...]
    skips: tuple[SkipRecord, ...]


@dataclass(frozen=True, slots=True)
class RunTimes:
    """What statistics need of a run."""

    function_slug: str
    status: RunStatus
    created_at: float
    started_at: float | None
    ended_at: float | None


@dataclass(frozen=True, slots=True)
class Bucket:
    """Runs of one function created in ``[start, start + width)``."""

    start: float
    counts: dict[RunStatus, int] = field(default_factory=dict)
    success_rate: float | None = None
    """Completed of those that completed or failed (None: none did)."""
    p50: float | None = None
    p95: float | None = None
    """Durations (seconds from creation to end) of the runs that ended."""


@dataclass(frozen=True, slots=True)
class FunctionStats:
    function_slug: str
    total: Bucket
    buckets: tuple[Bucket, ...]


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """The nearest-rank percentile ``q`` (0 to 1) of sorted values."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[rank - 1]


TimesRow = tuple[str, str, float, float | None, float | None]
"""A :class:`RunTimes` as a row: function, status, created, started and ended at."""


def _bucket(start: float, counts: dict[str, int], durations: list[float]) -> Bucket:
    """A bucket from its runs' counts by status and their sorted durations."""
    by_status = {RunStatus(status): n for status, n in counts.items()}
    completed = by_status.get(RunStatus.COMPLETED, 0)
    decided = completed + by_status.get(RunStatus.FAILED, 0)
    rate = completed / decided if decided else None
    return Bucket(start, by_status, rate, percentile(durations, 0.5), percentile(durations, 0.95))


def summarise(
    runs: Iterable[RunTimes], since: float, until: float, width: float
) -> list[FunctionStats]:
    """Per function, the runs created in ``[since, until)`` in buckets of ``width``
    seconds (empty buckets included), and the whole window."""
    rows = ((r.function_slug, r.status, r.created_at, r.started_at, r.ended_at) for r in runs)
    return summarise_rows(rows, since, until, width)


def summarise_rows(
    rows: Iterable[TimesRow], since: float, until: float, width: float
) -> list[FunctionStats]:
    """:func:`summarise` over rows as a SQL store reads them, oldest first: a window of
    tens of thousands of runs costs no object per run (docs/performance.md)."""
    if width <= 0 or until <= since:
        raise InvalidValue(
            f"statistics need since < until and a positive bucket width; got since={since}, "
            f"until={until}, width={width}"
        )
    count = math.ceil((until - since) / width)
    per_fn: dict[str, tuple[list[dict[str, int]], list[list[float]]]] = {}
    for slug, status, created, _, ended in rows:
        if not since <= created < until:
            continue
        slots = per_fn.get(slug)
        if slots is None:
            slots = per_fn[slug] = ([{} for _ in range(count)], [[] for _ in range(count)])
        i = int((created - since) // width)
        counts = slots[0][i]
        counts[status] = counts.get(status, 0) + 1
        if ended is not None:
            slots[1][i].append(ended - created)
    found = []
    for slug, (counts_of, durations_of) in sorted(per_fn.items()):
        total: dict[str, int] = {}
        for counts in counts_of:
            for status, n in counts.items():
                total[status] = total.get(status, 0) + n
        every = sorted(d for durations in durations_of for d in durations)
        buckets = []
        for i, (counts, durations) in enumerate(zip(counts_of, durations_of, strict=True)):
            durations.sort()
            buckets.append(_bucket(since + i * width, counts, durations))
        found.append(FunctionStats(slug, _bucket(since, total, every), tuple(buckets)))
    return found


class ReadModel(abc.ABC):
    """Every read of the API, GraphQL and the dashboard."""

    @abc.abstractmethod
    async def list_apps(self) -> list[App]: ...

    @abc.abstractmethod
    async def list_functions(self) -> list[Function]: ...

    @abc.abstractmethod
    async def get_event(self, internal_id: str) -> Event | None: ...

    @abc.abstractmethod
    async def list_events(self, name: str | None, limit: int) -> list[Event]:
        """Newest first."""

    @abc.abstractmethod
    async def events(
        self, where: EventFilter, *, limit: int = 100, after: str | None = None
    ) -> EventPage:
        """Events matching ``where``, newest first, strictly older than the cursor
        ``after``: one keyset read per page, whatever the history's size."""

    @abc.abstractmethod
    async def skips(self, event_id: str) -> list[SkipRecord]:
        """Why the event did not start a run of each function it matched but did not start
        (rate limited, duplicate, singleton, debounced...)."""

    async def event_detail(self, internal_id: str) -> EventDetail | None:
        event = await self.get_event(internal_id)
        if event is None:
            return None
        runs = await self.runs_for_event(internal_id)
        return EventDetail(event, tuple(runs), tuple(await self.skips(internal_id)))

    @abc.abstractmethod
    async def get_run(self, run_id: str) -> Run | None: ...

    @abc.abstractmethod
    async def runs_for_event(self, event_id: str) -> list[Run]: ...

    @abc.abstractmethod
    async def run_state(self, run_id: str) -> RunState | None:
        """The run, its events in order and its memos in completion order."""

    async def run_states(self, run_ids: Sequence[str]) -> list[RunState]:
        """The states of several runs (those that exist), in the order asked: one read for
        a bulk operation instead of one per run."""
        found = [await self.run_state(run_id) for run_id in run_ids]
        return [state for state in found if state is not None]

    @abc.abstractmethod
    async def history(self, run_id: str) -> list[Attempt]:
        """Every call request made for the run, oldest first."""

    @abc.abstractmethod
    async def list_runs(
        self,
        function_slug: str | None,
        *,
        active: bool,
        created_after: float | None = None,
        created_before: float | None = None,
        limit: int = 1000,
    ) -> list[Run]:
        """Runs newest first; ``active`` keeps only those that have not ended."""

    @abc.abstractmethod
    async def events_by_id(self, internal_ids: Sequence[str]) -> dict[str, Event]:
        """The events (that exist) of ``internal_ids``, in one read: a page of runs'
        triggers without a look-up per run."""

    @abc.abstractmethod
    async def event_outcomes(self, event_ids: Sequence[str]) -> dict[str, EventOutcome]:
        """What each of ``event_ids`` led to (the runs it started, the functions that
        skipped it), in one read: a page of events without a look-up per event."""

    @abc.abstractmethod
    async def stuck_runs(self, created_before: float, limit: int = 100) -> list[Run]:
        """Runs that can no longer move, oldest first: not ended, created before
        ``created_before``, with no queue item and no listener that would move them (a run
        timeout or a cancelOn does not). What a crash, a lost item or a bug leaves."""

    @abc.abstractmethod
    async def attempt_counts(self, run_ids: Sequence[str]) -> dict[str, int]:
        """How many calls each run made (runs with none are left out): one read for a
        page of runs."""

    @abc.abstractmethod
    async def run_waits(self, run_id: str) -> list[Wait]:
        """What the run waits for now, soonest deadline first."""

    @abc.abstractmethod
    async def flow_now(self, function_slug: str, now: float) -> FlowNow:
        """The function's flow control as it stands at ``now`` (a few index reads)."""

    @abc.abstractmethod
    async def runs(self, where: RunFilter, *, limit: int = 50, after: str | None = None) -> Page:
        """The runs ``where`` selects, newest first, ``limit`` at a time; ``after`` is the
        ``next`` of the previous page (keyset paging: new runs never shift a page)."""

    @abc.abstractmethod
    async def run_counts(self, where: RunFilter) -> dict[RunStatus, int]:
        """How many runs ``where`` selects in each status (its statuses ignored)."""

    @abc.abstractmethod
    async def run_times(
        self, function_slug: str | None, since: float, until: float
    ) -> list[RunTimes]:
        """The runs created in ``[since, until)``, oldest first, at most
        :data:`MAX_STATS_RUNS`."""

    async def function_stats(
        self, function_slug: str | None, since: float, until: float, width: float
    ) -> list[FunctionStats]:
        """Per function: runs by status, success rate and durations, over time."""
        return summarise(await self.run_times(function_slug, since, until), since, until, width)

    @abc.abstractmethod
    async def queue_stats(self, now: float) -> list[QueueStats]:
        """Per function with anything queued or active at ``now``, by slug: read on every
        scrape of ``/metrics``, so index range reads over the due items, the timers and
        the active runs only, never the history."""

    async def schema_version(self) -> int | None:
        """The migration the database is at (None: a backend without a schema)."""
        return None
