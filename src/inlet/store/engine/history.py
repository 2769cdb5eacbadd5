"""The history rows the engine writes for changes that made no call."""

from __future__ import annotations

from inlet.model import JSON, Attempt, Resume


def resumed(resume: Resume, now: float) -> Attempt:
    """A wait or invoke resolved by an event."""
    return Attempt(
        run_id=resume.run_id,
        item_id="",
        step_id=resume.step_id,
        attempt=0,
        started_at=now,
        ended_at=now,
        outcome="resumed",
        output=resume.memo,
        op_step=resume.step_id,
    )


def cancelled(run_id: str, error: dict[str, JSON], now: float) -> Attempt:
    """A run cancelled (by an event, the API, or a singleton that replaced it)."""
    return Attempt(
        run_id=run_id,
        item_id="",
        step_id="",
        attempt=0,
        started_at=now,
        ended_at=now,
        outcome="cancelled",
        name="cancel",
        error=str(error.get("message") or error),
    )


def revived(run_id: str, now: float) -> Attempt:
    """A stuck run (nothing left to move it) given a discovery call again."""
    return Attempt(
        run_id=run_id,
        item_id="",
        step_id="",
        attempt=0,
        started_at=now,
        ended_at=now,
        outcome="revived",
        name="reaper",
        error="the run had no queued work and no wait left: it is called again from its memos",
    )
