"""The alert rules, pure: each looks at values read from the store, with the time as a
parameter, and returns a decision per subject: :class:`Fire` (with what a person needs
to act), :class:`Clear`, or nothing (no change: an alert keeps its state). Their
thresholds are :class:`Rules`, whose defaults need no configuration (a rules file tunes
them: ``inlet.alerts.rulebook``).

- ``function.failing``: a function's success rate over its newest finished runs (or over
  the runs of a time window) is at most a threshold, by default 0% over the last 10; or
  the first runs of a new function, or since its app last synced (a deploy), all failed.
  Clears once the rate is above the threshold.
- ``queue.late``: the oldest due queue item has waited longer than its ``after``.
- ``app.unreachable``: syncing an app has failed (unreachable, rejecting the signature,
  not an SDK) for longer than its ``after``; clears once a sync succeeds.
- ``run.no_progress`` and ``events.no_runs``: in ``inlet.alerts.stalls``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Final

from inlet.model import JSON, App, Function, Run, RunStatus
from inlet.store.queries import QueueStats

FUNCTION_FAILING: Final = "function.failing"
QUEUE_LATE: Final = "queue.late"
APP_UNREACHABLE: Final = "app.unreachable"
RUN_NO_PROGRESS: Final = "run.no_progress"
EVENTS_NO_RUNS: Final = "events.no_runs"
RULES: Final = (FUNCTION_FAILING, QUEUE_LATE, APP_UNREACHABLE, RUN_NO_PROGRESS, EVENTS_NO_RUNS)
PER_FUNCTION: Final = (FUNCTION_FAILING, RUN_NO_PROGRESS, EVENTS_NO_RUNS)
"""The rules whose subject is a function: they take per-function settings."""
QUEUE_SUBJECT: Final = "queue"
INTERVAL: Final = 10.0
"""Seconds between two evaluations, by default."""


@dataclass(frozen=True, slots=True)
class Failing:
    """``function.failing``."""

    enabled: bool = True
    runs: int = 10
    """The newest finished runs judged."""
    window: float | None = None
    """Judge the runs created in the last this many seconds instead (``None``: ``runs``)."""
    min_runs: int = 1
    """With ``window``: the finished runs needed in it before a rate means anything."""
    max_success_rate: float = 0.0
    """Fire when the success rate (completed of finished) is at most this (0: all failed)."""
    first_runs: int = 3
    """A function with fewer finished runs than ``runs`` fires once this many (or more),
    all of them, failed: the first runs after a deploy. Not with ``window``."""


@dataclass(frozen=True, slots=True)
class Late:
    """``queue.late``, ``app.unreachable`` and ``run.no_progress``: a condition that
    lasted longer than ``after`` seconds."""

    after: float
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class NoRuns:
    """``events.no_runs``."""

    enabled: bool = True
    window: float = 600.0
    """Seconds of events looked at: no run started in them."""
    min_events: int = 1
    """Skipped events in the window needed to fire."""


RuleSettings = Failing | Late | NoRuns


def _no_overrides() -> Mapping[str, Mapping[str, RuleSettings]]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Rules:
    """Every rule's settings, and a function's own where it has them."""

    interval: float = INTERVAL
    failing: Failing = Failing()
    queue_late: Late = Late(after=300.0)
    app_unreachable: Late = Late(after=300.0)
    no_progress: Late = Late(after=3600.0)
    no_runs: NoRuns = NoRuns()
    functions: Mapping[str, Mapping[str, RuleSettings]] = field(default_factory=_no_overrides)
    """``rule -> function slug -> settings`` (complete settings, the rule's merged in)."""

    def failing_for(self, slug: str) -> Failing:
        found = self.functions.get(FUNCTION_FAILING, {}).get(slug)
        return found if isinstance(found, Failing) else self.failing

    def no_progress_for(self, slug: str) -> Late:
        found = self.functions.get(RUN_NO_PROGRESS, {}).get(slug)
        return found if isinstance(found, Late) else self.no_progress

    def no_runs_for(self, slug: str) -> NoRuns:
        found = self.functions.get(EVENTS_NO_RUNS, {}).get(slug)
        return found if isinstance(found, NoRuns) else self.no_runs

    def enabled(self, rule: str, subject: str) -> bool:
        """Whether ``rule`` applies to ``subject`` (a function's slug for per-function
        rules); a firing alert of a disabled rule resolves."""
        if rule == FUNCTION_FAILING:
            return self.failing_for(subject).enabled
        if rule == RUN_NO_PROGRESS:
            return self.no_progress_for(subject).enabled
        if rule == EVENTS_NO_RUNS:
            return self.no_runs_for(subject).enabled
        if rule == QUEUE_LATE:
            return self.queue_late.enabled
        if rule == APP_UNREACHABLE:
            return self.app_unreachable.enabled
        return True


@dataclass(frozen=True, slots=True)
class Fire:
    rule: str
    subject: str
    summary: dict[str, JSON] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Clear:
    rule: str
    subject: str


Decision = Fire | Clear


def first_line(error: JSON) -> str:
    """``Name: first line of the message`` of a run's error (as the SDKs report it)."""
    if not isinstance(error, dict):
        return str(error).strip().splitlines()[0] if error else ""
    name = str(error.get("name") or "").strip()
    lines = str(error.get("message") or "").strip().splitlines()
    message = lines[0] if lines else ""
    return f"{name}: {message}" if name and message else name or message


def run_link(base_url: str, run_id: str) -> str:
    return f"{base_url.rstrip('/')}/ui/runs/{run_id}"


def when(at: float) -> str:
    """A time as people read it in a message: UTC, to the second."""
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def span(seconds: float) -> str:
    """``90`` -> ``1m30s``: a duration as the rules file writes it."""
    whole = max(round(seconds), 0)
    parts: list[str] = []
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)):
        if whole >= size or (unit == "s" and not parts):
            parts.append(f"{whole // size}{unit}")
            whole %= size
    return "".join(parts)


def percent(rate: float) -> str:
    return f"{rate * 100:.0f}%"


def failing_function(
    function: Function,
    finished: Sequence[Run],
    rules: Failing,
    base_url: str,
    synced_at: float = 0.0,
) -> Decision | None:
    """``finished``: the function's newest finished (completed or failed) runs, newest
    first, at most ``rules.runs`` of them; ``synced_at``: when its app last synced (a
    deploy). Its first runs since then all failing fire before ``rules.runs`` of them
    have: what a new function's, or a deploy's, first runs say."""
    window = list(finished[: rules.runs])
    deployed = [run for run in window if run.created_at >= synced_at]
    if rules.first_runs <= len(deployed) < rules.runs and all(
        run.status == RunStatus.FAILED for run in deployed
    ):
        since = f" since its app synced at {when(synced_at)}" if synced_at else ""
        what = f"the first {len(deployed)} finished runs{since}"
        return judged(function, 0, deployed[0], len(deployed), True, what, rules, base_url)
    failed = [run for run in window if run.status == RunStatus.FAILED]
    completed = len(window) - len(failed)
    newest_failed = failed[0] if failed else None
    what = f"the last {len(window)} finished runs"
    enough = len(window) >= rules.runs
    return judged(function, completed, newest_failed, len(window), enough, what, rules, base_url)


def failing_in_window(
    function: Function,
    counts: Mapping[RunStatus, int],
    newest_failed: Run | None,
    rules: Failing,
    base_url: str,
) -> Decision | None:
    """``counts``: the function's runs created in the last ``rules.window`` seconds, by
    status; ``newest_failed``: the newest failed one, for its error and link."""
    completed = counts.get(RunStatus.COMPLETED, 0)
    finished = completed + counts.get(RunStatus.FAILED, 0)
    what = f"the {finished} runs finished of those created in the last {span(rules.window or 0)}"
    return judged(
        function,
        completed,
        newest_failed,
        finished,
        finished >= rules.min_runs,
        what,
        rules,
        base_url,
    )


def judged(
    function: Function,
    completed: int,
    newest_failed: Run | None,
    finished: int,
    enough: bool,
    what: str,
    rules: Failing,
    base_url: str,
) -> Decision | None:
    if finished == 0:
        return None
    rate = completed / finished
    if rate > rules.max_success_rate:
        return Clear(FUNCTION_FAILING, function.slug)
    if not enough or newest_failed is None:
        return None
    error = first_line(newest_failed.error)
    outcome = "failed" if completed == 0 else f"succeeded at {percent(rate)}"
    return Fire(
        FUNCTION_FAILING,
        function.slug,
        {
            "message": (
                f"{function.name or function.slug}: {what} {outcome}; the newest failure "
                f"with {error or 'no error message'}"
            ),
            "function": function.slug,
            "function_name": function.name,
            "app": function.app_url,
            "error": error,
            "run_id": newest_failed.id,
            "run_url": run_link(base_url, newest_failed.id),
            "failed_runs": finished - completed,
            "finished_runs": finished,
            "success_rate": rate,
        },
    )


def queue_late(stats: Sequence[QueueStats], now: float, rules: Late) -> Decision:
    waiting = [s for s in stats if s.due and s.oldest_due_at is not None]
    if not waiting:
        return Clear(QUEUE_LATE, QUEUE_SUBJECT)
    oldest = min(waiting, key=lambda s: s.oldest_due_at or now)
    age = now - (oldest.oldest_due_at or now)
    if age <= rules.after:
        return Clear(QUEUE_LATE, QUEUE_SUBJECT)
    due = sum(s.due for s in waiting)
    return Fire(
        QUEUE_LATE,
        QUEUE_SUBJECT,
        {
            "message": (
                f"the oldest due queue item (of {oldest.function_slug}) has waited "
                f"{age:.0f} s, more than {rules.after:.0f} s; {due} items are due"
            ),
            "function": oldest.function_slug,
            "waited_seconds": round(age, 3),
            "due": due,
        },
    )


def unreachable_app(app: App, since: float | None, now: float, rules: Late) -> Decision | None:
    """``since``: when the app's sync began failing (``None``: not known, taken as now)."""
    if not app.error:
        return Clear(APP_UNREACHABLE, app.url)
    failing = now - (since if since is not None else now)
    if failing <= rules.after:
        return None
    error = first_line(app.error)
    return Fire(
        APP_UNREACHABLE,
        app.url,
        {
            "message": (
                f"the app {app.app_id or app.url} is unreachable or refuses this server, "
                f"for {span(failing)} (since {when(now - failing)}): {error}"
            ),
            "app": app.url,
            "app_id": app.app_id,
            "error": error,
            "failing_since": now - failing,
        },
    )
