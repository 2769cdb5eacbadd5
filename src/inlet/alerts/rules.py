"""The default alert rules, pure: each looks at values read from the store, with the time
as a parameter, and returns a decision per subject: :class:`Fire` (with what a person
needs to act), :class:`Clear`, or nothing (no change: an alert keeps its state).

- ``function.failing``: a function's newest :attr:`Rules.failing_runs` finished runs all
  failed, or a new function's first :attr:`Rules.first_runs` (or more) all did; clear once
  its newest finished run completed.
- ``queue.late``: the oldest due queue item has waited longer than :attr:`Rules.queue_late`.
- ``app.unreachable``: syncing an app fails (unreachable, rejecting the signature, not an
  SDK); clear once a sync succeeds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from inlet.model import JSON, App, Function, Run, RunStatus
from inlet.store.queries import QueueStats

FUNCTION_FAILING: Final = "function.failing"
QUEUE_LATE: Final = "queue.late"
APP_UNREACHABLE: Final = "app.unreachable"
RULES: Final = (FUNCTION_FAILING, QUEUE_LATE, APP_UNREACHABLE)
QUEUE_SUBJECT: Final = "queue"


@dataclass(frozen=True, slots=True)
class Rules:
    """The thresholds; the defaults need no configuration."""

    failing_runs: int = 10
    """Finished runs in a row that must all have failed (success rate 0%)."""
    first_runs: int = 3
    """A function with fewer finished runs than ``failing_runs`` alerts once this many, all
    of them, failed: the first runs after a deploy."""
    queue_late: float = 300.0
    """Seconds the oldest due queue item may wait."""


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


def failing_function(
    function: Function, finished: Sequence[Run], rules: Rules, base_url: str
) -> Decision | None:
    """``finished``: the function's newest finished (completed or failed) runs, newest
    first, at most ``rules.failing_runs`` of them."""
    if not finished:
        return None
    newest = finished[0]
    if newest.status == RunStatus.COMPLETED:
        return Clear(FUNCTION_FAILING, function.slug)
    window = list(finished[: rules.failing_runs])
    enough = len(window) >= rules.failing_runs or (
        len(finished) < rules.failing_runs and len(window) >= rules.first_runs
    )
    if not enough or any(run.status != RunStatus.FAILED for run in window):
        return None
    error = first_line(newest.error)
    return Fire(
        FUNCTION_FAILING,
        function.slug,
        {
            "message": (
                f"{function.name or function.slug}: the last {len(window)} finished runs "
                f"failed; the newest with {error or 'no error message'}"
            ),
            "function": function.slug,
            "function_name": function.name,
            "app": function.app_url,
            "error": error,
            "run_id": newest.id,
            "run_url": run_link(base_url, newest.id),
            "failed_runs": len(window),
        },
    )


def queue_late(stats: Sequence[QueueStats], now: float, rules: Rules) -> Decision:
    waiting = [s for s in stats if s.due and s.oldest_due_at is not None]
    if not waiting:
        return Clear(QUEUE_LATE, QUEUE_SUBJECT)
    oldest = min(waiting, key=lambda s: s.oldest_due_at or now)
    age = now - (oldest.oldest_due_at or now)
    if age <= rules.queue_late:
        return Clear(QUEUE_LATE, QUEUE_SUBJECT)
    due = sum(s.due for s in waiting)
    return Fire(
        QUEUE_LATE,
        QUEUE_SUBJECT,
        {
            "message": (
                f"the oldest due queue item (of {oldest.function_slug}) has waited "
                f"{age:.0f} s, more than {rules.queue_late:.0f} s; {due} items are due"
            ),
            "function": oldest.function_slug,
            "waited_seconds": round(age, 3),
            "due": due,
        },
    )


def unreachable_app(app: App) -> Decision:
    if not app.error:
        return Clear(APP_UNREACHABLE, app.url)
    error = first_line(app.error)
    return Fire(
        APP_UNREACHABLE,
        app.url,
        {
            "message": f"the app {app.app_id or app.url} cannot be synced: {error}",
            "app": app.url,
            "app_id": app.app_id,
            "error": error,
        },
    )
