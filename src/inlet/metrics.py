"""What one process counts for ``/metrics``, in a registry of its own per app (tests run
several servers in one interpreter; the global registry would mix them).

These counters and histograms are process-local: each process counts the work it did,
and Prometheus sums them over instances (``sum by (function) (rate(...[5m]))``). The
database-wide gauges (queue depth, oldest due item, waiting runs, firing alerts) are not
kept here: ``inlet.api.metrics`` reads them from the store at each scrape, so two
processes on one database report the same value instead of half each.

Runs ended, events skipped and starts delayed are counted from a :class:`Tally`: the run
engine notes each where it happens, inside the transaction, whatever path led there (an
event's ``cancelOn``, ``DELETE /v1/runs/{id}``, a bulk operation, a singleton replacing a
run, a call's outcome, a timeout), and the store hands it over once it has committed. The
full list of series, for dashboards and autoscalers, is ``docs/metrics.md``.
"""

from __future__ import annotations

from collections import Counter as Tallies
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Histogram

from inlet.model import Attempt, RunStatus

CALL_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
"""Seconds a call took: an SDK step is milliseconds, a slow one minutes (the call timeout)."""
DELAY_BUCKETS: Final = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600)
"""Seconds an item waited once due: a slot, a worker, a throttle (an hour is a backlog)."""

SKIP_REASONS: Final = (
    ("function paused", "paused"),
    ("an event with the same id", "duplicate_event"),
    ("idempotency", "idempotency"),
    ("rate limited", "rate_limit"),
    ("debounced", "debounce"),
    ("singleton", "singleton"),
    ("the trigger's expression", "expression"),
)
"""A skip record's reason (``store.engine.admit``, ``runs.registry``) by its opening words,
as a label."""

CONCURRENCY: Final = "concurrency"
"""A due call parked until a slot of its concurrency limit frees."""
THROTTLE: Final = "throttle"
"""A run whose start a throttle put off."""
DEBOUNCE: Final = "debounce"
"""A debounced run made to start after its period, or put off again by a later event."""
BATCH: Final = "batch"
"""A run opened for a batch, held until the batch fills or times out."""
DELAY_REASONS: Final = (CONCURRENCY, THROTTLE, DEBOUNCE, BATCH)
"""The ``reason`` label of ``inlet_flow_delays``. Priority is no delay: it orders due work
(its effect shows in ``inlet_scheduling_delay_seconds``)."""


@dataclass(slots=True)
class Tally:
    """What one write transaction of the run engine did that is counted here: filled on
    its ``Tx`` inside the transaction, handed to :meth:`Metrics.record` once committed (a
    write rolled back and run again alone is counted once, by the attempt that committed).
    """

    ended: list[tuple[str, RunStatus]] = field(default_factory=list)
    """``(function, status)`` of each run the transaction ended."""
    skipped: list[tuple[str, str, int]] = field(default_factory=list)
    """``(function, reason, events)``: how many events started no run of the function for
    that reason, as their skip records say it."""
    delayed: list[tuple[str, str]] = field(default_factory=list)
    """``(function, one of DELAY_REASONS)`` of each start or call a gate held back."""

    def end(self, function: str, status: RunStatus) -> None:
        self.ended.append((function, status))

    def skip(self, function: str, reason: str, events: int = 1) -> None:
        self.skipped.append((function, reason, events))

    def delay(self, function: str, reason: str) -> None:
        self.delayed.append((function, reason))

    def __bool__(self) -> bool:
        return bool(self.ended or self.skipped or self.delayed)


Watcher = Callable[[Tally], None]
"""Called on the event loop with each committed write's tally that is not empty."""


def skip_reason(reason: str) -> str:
    """The label of a skip record's reason: a few values, never the key or run it names."""
    for start, label in SKIP_REASONS:
        if reason.startswith(start):
            return label
    return "other"


UNREACHABLE: Final = frozenset({"timeout", "connection", "not_sdk", "signature"})
"""The call error kinds that say the app is down or refuses this server, not that a step
failed: the app's error (``app.unreachable``) notes them."""


def call_error_kind(status: int, transport_error: str | None, sdk: bool, error: str) -> str | None:
    """Why a failed call request gave no usable answer, as a label: ``timeout``,
    ``too_large`` and ``connection`` (no HTTP response; the transport's messages),
    ``not_sdk`` (no ``X-Inngest-SDK`` header), ``signature`` (an unsigned or wrongly signed
    reply in ``inlet start``), else the status class (``http_4xx``, ``http_5xx``; an SDK
    answers 500 when the function raised). None for a 2xx answer: the SDK answered, and a
    step's own error is the function's, not the call's."""
    if transport_error is not None:
        if transport_error.startswith("no response"):
            return "timeout"
        if "larger than" in transport_error:
            return "too_large"
        return "connection"
    if not sdk:
        return "not_sdk"
    if "X-Inngest-Signature" in error:
        return "signature"
    return f"http_{status // 100}xx" if status >= 300 else None


class Metrics:
    """The process-local counters of one app and the registry ``/metrics`` renders."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self._events = Counter(
            "inlet_events_received",
            "Events stored by this process (POST /e and the API).",
            registry=r,
        )
        self._started = Counter(
            "inlet_runs_started",
            "Runs whose first call this process started.",
            ["function"],
            registry=r,
        )
        self._finished = Counter(
            "inlet_runs_finished",
            "Runs ended by this process's writes, by status (completed, failed, cancelled), "
            "whatever ended them.",
            ["function", "status"],
            registry=r,
        )
        self._duration = Histogram(
            "inlet_step_duration_seconds",
            "Seconds each call request of this process took (an attempt's end - start).",
            ["function"],
            buckets=CALL_BUCKETS,
            registry=r,
        )
        self._delay = Histogram(
            "inlet_scheduling_delay_seconds",
            "Seconds each call waited from due to started (a slot, a worker, a throttle).",
            ["function"],
            buckets=DELAY_BUCKETS,
            registry=r,
        )
        self._errors = Counter(
            "inlet_sdk_call_errors",
            "Call requests that gave no usable answer, by kind.",
            ["function", "kind"],
            registry=r,
        )
        self._skips = Counter(
            "inlet_flow_skips",
            "Events that started no run of a function, by reason: its trigger's expression, "
            "a pause, a duplicate or a flow-control gate.",
            ["function", "reason"],
            registry=r,
        )
        self._delays = Counter(
            "inlet_flow_delays",
            "Starts and calls a flow-control gate held back, by reason (concurrency, "
            "throttle, debounce, batch).",
            ["function", "reason"],
            registry=r,
        )

    def events_received(self, count: int) -> None:
        self._events.inc(count)

    def run_started(self, function: str) -> None:
        self._started.labels(function).inc()

    def run_finished(self, function: str, status: RunStatus) -> None:
        self._finished.labels(function, status.value.lower()).inc()

    def call(self, function: str, attempt: Attempt, error_kind: str | None) -> None:
        """A call request made and recorded: its duration, its time in the queue, and why
        it failed (``error_kind``, None when the app answered)."""
        self._duration.labels(function).observe(max(attempt.ended_at - attempt.started_at, 0.0))
        if attempt.due_at is not None:
            self._delay.labels(function).observe(max(attempt.started_at - attempt.due_at, 0.0))
        if error_kind is not None:
            self._errors.labels(function, error_kind).inc()

    def skipped(self, function: str, reason: str) -> None:
        self._skips.labels(function, skip_reason(reason)).inc()

    def record(self, tally: Tally) -> None:
        """Count what one committed write did: runs ended, events skipped, starts delayed."""
        for function, status in tally.ended:
            self.run_finished(function, status)
        # One increment per series, not per skip: an ingest of 100 events that each skip
        # nine functions (bench W4) held 900 skips, and labels() cost more than the rest.
        if tally.skipped:  # most writes skip nothing: no Counter for them
            counts: Tallies[tuple[str, str]] = Tallies()
            for function, reason, events in tally.skipped:
                counts[function, reason] += events
            for (function, reason), count in counts.items():
                self._skips.labels(function, skip_reason(reason)).inc(count)
        for function, label in tally.delayed:
            self._delays.labels(function, label).inc()
