"""Recording what a durable endpoint reports (``inlet.steps.endpoint``): the steps it ran
inside its own request, and how its run ends or that it went async."""

from __future__ import annotations

from dataclasses import replace

from inlet.model import STEP_DISCOVERY, Attempt, ItemKind, NewItem, RunStatus
from inlet.steps.checkpoint import StateLimits, Verdict
from inlet.steps.endpoint import Report
from inlet.store.engine.checkpoint import new_steps, write_steps
from inlet.store.engine.queue import drop_run_work, queued, release
from inlet.store.engine.tx import Tx


def record(tx: Tx, run_id: str, report: Report, limits: StateLimits, now: float) -> Verdict:
    """Record ``report``'s steps (a step recorded already is skipped, so a report sent
    again records nothing twice); end the run if it finished, or make its waiting call due
    now if the endpoint went async. Nothing changes for a run that has ended."""
    row = tx.run(run_id)
    if row is None:
        return Verdict.MISSING
    run = row.run
    if run.status.ended:
        return Verdict.STALE
    found = new_steps(tx, run, report.steps, limits)
    if found is None:
        return Verdict.OVER_LIMIT
    fresh, size = found
    write_steps(tx, run, fresh, now)
    run = replace(
        run,
        status=RunStatus.RUNNING,
        started_at=run.started_at or now,
        step_count=run.step_count + len(fresh),
        state_size=run.state_size + size,
    )
    finish = report.finish
    if finish is not None:
        drop_run_work(tx, run.id, now)
        run = replace(
            run, status=finish.status, output=finish.output, error=finish.error, ended_at=now
        )
        tx.update_run(run)
        tx.tally.end(run.function_slug, finish.status)
        return Verdict.SAVED
    tx.update_run(run)
    if report.retry is not None:
        # The request made the failed step's first attempt: record it as the call's
        # attempt 0 that ended in a retry, so the server's first call is attempt 1.
        release(tx, tx.drop_run_items(run.id), now)
        item, rank, keys = queued(
            tx, row, run.id, NewItem(ItemKind.DISCOVERY, STEP_DISCOVERY, now), now
        )
        tx.enqueue(item, rank, keys)
        lease = f"endpoint-{item.id}"
        tx.lease([(item.id, lease, now, keys)])
        tx.retry_item(item.id, lease, now, rank, Attempt.of(item, now, "retry", report.retry))
        if keys:
            release(tx, [item.id], now)
        tx.note_due(now, now)
    elif report.wake:
        tx.reschedule_start(run.id, now, now)
        tx.note_due(now, now)
    return Verdict.SAVED
