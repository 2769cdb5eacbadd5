"""Recording a checkpoint (``inlet.steps.checkpoint``): the steps a call in flight ran,
written while the call goes on, as its 206 reply would have written them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from inlet.model import Run, RunStatus, StoredMemo
from inlet.steps.checkpoint import Checkpoint, StateLimits, Step, Verdict
from inlet.store.engine.tx import Tx


def new_steps(
    tx: Tx, run: Run, steps: Iterable[Step], limits: StateLimits
) -> tuple[list[Step], int] | None:
    """The steps of a report the run has no memo for yet (a report sent again records
    nothing twice) and their size, or None when they would take the run over its limits."""
    known = {memo.step_id for memo in tx.memos(run.id)}
    fresh = []
    for step in steps:
        if step.memo.step_id not in known:
            known.add(step.memo.step_id)
            fresh.append(step)
    size = sum(step.size for step in fresh)
    if (
        run.state_size + size > limits.max_state_bytes
        or run.step_count + len(fresh) > limits.max_steps
    ):
        return None
    return fresh, size


def write_steps(tx: Tx, run: Run, steps: list[Step], now: float) -> None:
    """``steps`` as the run's next memos, each with its history row."""
    for seq, step in enumerate(steps, start=run.step_count):
        memo = step.memo
        tx.insert_memo(run.id, StoredMemo(memo.step_id, memo.value, memo.name, memo.op, seq, now))
        if step.attempt is not None:
            tx.record_attempt(step.attempt)


def checkpoint(tx: Tx, cp: Checkpoint, limits: StateLimits, now: float) -> Verdict:
    """Record ``cp``'s steps as memos with their history rows and set its queue item's
    attempt back to 0, if the call's lease still holds the item and the run goes on;
    otherwise change nothing. A step recorded already (a checkpoint sent again) is
    skipped, so a retried checkpoint records nothing twice."""
    row = tx.run(cp.run_id)
    if row is None:
        return Verdict.MISSING
    run = row.run
    if run.status.ended:
        return Verdict.STALE
    found = new_steps(tx, run, cp.steps, limits)
    if found is None:
        return Verdict.OVER_LIMIT
    fresh, size = found
    # The write that resets the attempt is also the lease check (the fence).
    if not tx.reset_attempt(cp.item_id, cp.lease, run.id):
        return Verdict.STALE
    write_steps(tx, run, fresh, now)
    if fresh or run.status is RunStatus.QUEUED:
        tx.update_run(
            replace(
                run,
                status=RunStatus.RUNNING,
                step_count=run.step_count + len(fresh),
                state_size=run.state_size + size,
            )
        )
    return Verdict.SAVED
