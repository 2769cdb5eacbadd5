"""Waiting steps: resolving a wait or invoke with an event, and the event that arrived
while the call asking for the wait was still in flight."""

from __future__ import annotations

from dataclasses import replace

import orjson

from inlet.expr import compile_expression
from inlet.model import Event, ItemKind, Listener, NewItem, Resume, StoredMemo
from inlet.steps.ops import RESUME
from inlet.store.engine import history
from inlet.store.engine.queue import enqueue
from inlet.store.engine.tx import Tx


def resume(tx: Tx, resume: Resume, now: float) -> bool:
    """Resolve a waiting step with ``resume.memo``. Applies only if it removes its
    listener (so two events never resolve one wait) and the run has not ended."""
    # The run first: every transaction changing a run locks its row before its listeners.
    row = tx.run(resume.run_id)
    if not tx.take_listener(resume.listener_id):
        return False
    if row is None or row.run.status.ended:
        return False
    run = row.run
    memo = StoredMemo(resume.step_id, resume.memo, "", RESUME, run.step_count, now)
    if not tx.insert_memo(run.id, memo):
        return False
    size = len(orjson.dumps(resume.memo))
    tx.update_run(replace(run, step_count=run.step_count + 1, state_size=run.state_size + size))
    tx.drop_step_waits(run.id, resume.step_id)
    # Joins like a parallel branch: no discovery while another call of the run is out.
    enqueue(tx, row, run.id, NewItem(ItemKind.DISCOVERY, "step", now, after_join=True), now)
    tx.record_attempt(history.resumed(resume, now))
    return True


def early_event(tx: Tx, listener: Listener, since: float) -> Event | None:
    """An event the wait would have matched that arrived while the call that asked for
    the wait was in flight (Inngest loses it: inngest/inngest#1433). ``since`` and
    ``received_at`` are both this server's clock."""
    condition = compile_expression(listener.expression) if listener.expression else None
    for event in tx.events_since(listener.event, since):
        if condition is None or condition.matches({"async": event.to_wire()}):
            return event
    return None
