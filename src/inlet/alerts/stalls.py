"""The rules that watch for things standing still, pure like those of ``rules.py``.

- ``run.no_progress``: runs of a function in flight with no sign of progress (no attempt
  ended, no step recorded, no item or wait due) for longer than ``after``; a sleep or a
  wait before its deadline, or a call in flight, is progress still ahead. One alert per
  function, naming its oldest quiet run and what that run last did; it clears once none
  of the function's runs is quiet (each moved or ended).
- ``events.no_runs``: events arrived for a function's trigger in the last ``window`` and
  it skipped them all (paused, a flow-control gate, a false expression), starting no run.
  It names the event, how many were skipped and why; it clears when a run starts.
  Skipped ``inngest/`` events do not count: an ``onFailure`` handler skips the failures
  of every other function.
"""

from __future__ import annotations

from collections.abc import Sequence

from inlet.alerts.rules import (
    EVENTS_NO_RUNS,
    RUN_NO_PROGRESS,
    Clear,
    Decision,
    Fire,
    Late,
    NoRuns,
    first_line,
    run_link,
    span,
    when,
)
from inlet.model import Attempt, Function
from inlet.store.stalls import QuietRun, SkipTally

INTERNAL_EVENTS = "inngest/"
"""The prefix of the events inlet and the SDKs emit (``inngest/function.failed``...)."""
PENDING = {
    "": "nothing is queued for it",
    "due": "its next call has been due since then",
    "parked": "its next call is parked, waiting for a concurrency slot",
    "lease_expired": "the worker calling it stopped renewing its lease",
}


def doing(quiet: QuietRun, last: Attempt | None) -> str:
    """What a quiet run last did, and what it waits for now, in a sentence."""
    if last is None:
        did = f"created at {when(quiet.run.created_at)}, it never made a call"
    else:
        step = last.name or last.step_id
        did = f"its last call (step {step!r}, attempt {last.attempt + 1}) ended {last.outcome}"
        did += f" at {when(last.ended_at)}"
        if last.error:
            did += f" with {first_line(last.error)}"
    return f"{did}; {PENDING[quiet.pending]}"


def no_progress(
    slug: str,
    function: Function | None,
    quiet: Sequence[QuietRun],
    last: Attempt | None,
    now: float,
    rules: Late,
    base_url: str,
) -> Decision:
    """``quiet``: the function's runs with no progress since ``now - rules.after``,
    oldest first; ``last``: the newest attempt of the oldest of them."""
    if not quiet:
        return Clear(RUN_NO_PROGRESS, slug)
    oldest = quiet[0]
    name = function.name if function is not None and function.name else slug
    others = f" (and {len(quiet) - 1} more of its runs)" if len(quiet) > 1 else ""
    return Fire(
        RUN_NO_PROGRESS,
        slug,
        {
            "message": (
                f"{name}: run {oldest.run.id}{others} has made no progress for "
                f"{span(now - oldest.last_at)}, more than {span(rules.after)}: "
                f"{doing(oldest, last)}"
            ),
            "function": slug,
            "function_name": function.name if function is not None else "",
            "app": function.app_url if function is not None else "",
            "run_id": oldest.run.id,
            "run_url": run_link(base_url, oldest.run.id),
            "error": first_line(last.error) if last is not None and last.error else "",
            "doing": doing(oldest, last),
            "quiet_since": oldest.last_at,
            "quiet_runs": len(quiet),
        },
    )


def no_runs(
    slug: str,
    function: Function | None,
    skipped: Sequence[SkipTally],
    newest_run_at: float | None,
    firing_since: float | None,
    now: float,
    rules: NoRuns,
    app_error: str | None = None,
) -> Decision | None:
    """``skipped``: the function's skipped events in the last ``rules.window`` seconds;
    ``newest_run_at``: when its newest run was created; ``firing_since``: when this
    rule's alert about it fired, if it is firing."""
    if firing_since is not None:
        started = newest_run_at is not None and newest_run_at >= min(
            firing_since, now - rules.window
        )
        return Clear(EVENTS_NO_RUNS, slug) if started else None
    # An onFailure handler skips every other function's failure (its expression names its
    # own): the inngest/ events' skips are the normal case, never news.
    skipped = [t for t in skipped if not t.event_name.startswith(INTERNAL_EVENTS)]
    count = sum(t.count for t in skipped)
    if count < max(rules.min_events, 1):
        return None
    if newest_run_at is not None and newest_run_at >= now - rules.window:
        return None
    names = sorted({t.event_name for t in skipped if t.event_name})
    reasons: dict[str, int] = {}
    for t in skipped:
        reasons[t.reason] = reasons.get(t.reason, 0) + t.count
    why = "; ".join(f"{n} {reason}" for reason, n in sorted(reasons.items(), key=lambda r: -r[1]))
    events = " or ".join(repr(n) for n in names) or "its trigger"
    name = function.name if function is not None and function.name else slug
    message = (
        f"{name}: {count} events {events} in the last {span(rules.window)} started no run: {why}"
    )
    if app_error:
        message += f"; its app's last sync failed: {app_error}"
    return Fire(
        EVENTS_NO_RUNS,
        slug,
        {
            "message": message,
            "function": slug,
            "function_name": function.name if function is not None else "",
            "app": function.app_url if function is not None else "",
            "event": names[0] if len(names) == 1 else names,
            "events": count,
            "reasons": dict(reasons),
            "first_skipped_at": min(t.first_at for t in skipped),
            "error": app_error or "",
        },
    )
