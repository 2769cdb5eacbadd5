"""What a due timer does (no call to the app). Pure.

Step timers (a sleep's end, a wait's or an invoke's timeout) record the step's memo and
ask for a discovery, unless the step was resolved already (the awaited event came first).
Run timers check ``timeouts.start`` / ``timeouts.finish`` and cancel the run when it is
over time; the finish timer is made with the run and re-armed until the run has started.
"""

from __future__ import annotations

from dataclasses import replace

from inlet.model import (
    STEP_DISCOVERY,
    Attempt,
    Finish,
    ItemKind,
    Memo,
    NewItem,
    Outcome,
    QueueItem,
    RunState,
    RunStatus,
)
from inlet.steps.finish import standard_error
from inlet.steps.ops import TIMER
from inlet.steps.waits import JOINS_GROUP

TIMEOUT_ERROR = "InngestTimeoutError"


def fire(item: QueueItem, state: RunState, now: float) -> Outcome:
    payload = item.payload if isinstance(item.payload, dict) else {}
    attempt = Attempt.of(item, now, "timer")
    if "timeout" in payload:
        return _run_timeout(attempt, payload, state, now)
    if any(m.step_id == item.step_id for m in state.memos):
        return Outcome(
            attempt=replace(
                attempt, outcome="skipped", error="the step was resolved before its timer"
            )
        )
    memo = payload.get("memo")
    op = str(payload.get("op") or TIMER)
    return Outcome(
        attempt=replace(attempt, output=memo, op_step=item.step_id),
        memos=(Memo(item.step_id, memo, item.name, op),),
        # A sleep or wait inside a parallel group joins it like a branch does.
        enqueue=(NewItem(ItemKind.DISCOVERY, STEP_DISCOVERY, now, after_join=True),),
        # Go resumes a sleep by calling the app with the run's metadata as it read it
        # before the join reset planning mode: the call after a group's sleep still plans.
        force_plan=True if payload.get(JOINS_GROUP) else None,
    )


def _run_timeout(
    attempt: Attempt, payload: dict[str, object], state: RunState, now: float
) -> Outcome:
    run = state.run
    which = str(payload.get("timeout"))
    raw_seconds = payload.get("seconds")
    seconds = float(raw_seconds) if isinstance(raw_seconds, int | float) else 0.0
    if run.status.ended:
        return Outcome(attempt=replace(attempt, outcome="skipped", error="the run had ended"))
    if which == "start":
        if run.status is not RunStatus.QUEUED:
            return Outcome(
                attempt=replace(attempt, outcome="skipped", error="the run started in time")
            )
        reason = f"the run did not start within {seconds:g}s (timeouts.start)"
    else:
        if run.started_at is None:
            return Outcome(attempt=replace(attempt, outcome="rearmed"), retry_at=now + seconds)
        deadline = run.started_at + seconds
        if deadline > now:
            return Outcome(attempt=replace(attempt, outcome="rearmed"), retry_at=deadline)
        reason = f"the run did not finish within {seconds:g}s of starting (timeouts.finish)"
    error = standard_error(TIMEOUT_ERROR, reason)
    return Outcome(
        attempt=replace(attempt, outcome="cancelled", error=reason),
        finish=Finish(RunStatus.CANCELLED, output=error, error=error),
    )
