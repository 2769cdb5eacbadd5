"""Admission: whether a new run is created, delayed, skipped, or folded into a pending
debounce or batch, by the gates of ``inlet.flow.gates`` in their declared order."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import orjson

from inlet.flow import gates
from inlet.flow.batch import BatchState
from inlet.flow.config import IDEMPOTENCY_PERIOD
from inlet.flow.debounce import DebounceState
from inlet.flow.decision import Delay, Skip
from inlet.flow.singleton import CancelThen
from inlet.ids import new_ulid
from inlet.metrics import BATCH, DEBOUNCE, THROTTLE
from inlet.model import (
    Buffer,
    Cancellation,
    Finish,
    ItemKind,
    NewItem,
    NewRun,
    Resume,
    Run,
    RunStatus,
)
from inlet.steps import finish as finishing
from inlet.steps.waits import invoke_refused
from inlet.store.engine.queue import enqueue, first_rank, run_state
from inlet.store.engine.tx import GateState, RunRow, Tx
from inlet.store.operations import PAUSED

FollowUp = Cancellation | Resume
"""Work a decision starts that the engine applies after the current batch."""


@dataclass(slots=True)
class Admission:
    """Whether the run was created, and what the decision started besides."""

    created: bool = False
    follow_ups: list[FollowUp] | None = None


@dataclass(slots=True)
class _Ctx:
    tx: Tx
    new: NewRun
    now: float
    fresh: set[str]
    cancel: Callable[[Cancellation], object]
    due: float


def create_run(
    tx: Tx,
    new: NewRun,
    now: float,
    key_ttl: float,
    fresh: set[str],
    cancel: Callable[[Cancellation], object],
) -> Admission:
    """Create ``new`` if its unique key and its flow control allow it; record why not
    otherwise. ``fresh`` are the events stored by this batch (only they get a skip
    record: a retried send is not news); ``cancel`` applies a cancellation at once (a
    singleton's replaced run must end before the next run of its key is decided)."""
    slug = new.function_slug
    # Before the key: a skipped event's key stays free, so it can be replayed.
    if tx.function_paused(slug):
        return _skip(tx, new, PAUSED, now, fresh)
    if not tx.reserve_key(slug, new.key, new.id, now, now + key_ttl):
        holder = tx.key_holder(slug, new.key) or "?"
        return _skip(
            tx, new, f"an event with the same id started run {holder} within 24h", now, fresh
        )
    if not new.flow.gated:
        insert_run(tx, new, new.due_at, now)
        return Admission(created=True)
    ctx = _Ctx(tx, new, now, fresh, cancel, new.due_at)
    for gate in gates.ORDER:
        decided = _GATES[gate](ctx)
        if decided is not None:
            return decided
    insert_run(tx, new, ctx.due, now)
    return Admission(created=True)


def create_plain_runs(tx: Tx, runs: Sequence[NewRun], now: float, key_ttl: float) -> set[str]:
    """Create together the runs that need nothing but their unique key (no flow gate, no
    memos, timers or listeners: most runs), one write per table; the ids created. A run
    left out (its function paused, its key taken, a key it shares with an earlier run of
    the batch) goes through :func:`create_run`, which records why."""
    seen: set[tuple[str, str]] = set()
    plain = []
    for new in runs:
        pair = (new.function_slug, new.key)
        if pair in seen:
            continue
        seen.add(pair)
        if new.plain and not tx.function_paused(new.function_slug):
            plain.append(new)
    if len(plain) < 2:
        return set()
    held = tx.reserve_keys([(n.function_slug, n.key, n.id) for n in plain], now, now + key_ttl)
    fresh = [new for new, ok in zip(plain, held, strict=True) if ok]
    if fresh:
        tx.insert_queued_runs(
            [(new, new_ulid(now), first_rank(new.due_at, new.flow.priority)) for new in fresh], now
        )
        tx.note_due(min(new.due_at for new in fresh), now)
    return {new.id for new in fresh}


def queued_run(new: NewRun, now: float) -> Run:
    """The row a new run is created with."""
    return Run(
        id=new.id,
        function_slug=new.function_slug,
        event_ids=new.event_ids,
        status=RunStatus.QUEUED,
        created_at=now,
    )


def insert_run(tx: Tx, new: NewRun, due: float, now: float) -> None:
    run = queued_run(new, now)
    tx.insert_run(run, new.flow)
    if new.memos:
        for memo in new.memos:
            tx.insert_memo(run.id, memo)
        size = sum(len(orjson.dumps(m.value)) for m in new.memos)
        run = replace(run, step_count=len(new.memos), state_size=size)
        tx.update_run(run)
    row = RunRow(run, new.flow.priority, new.flow.concurrency)
    enqueue(tx, row, run.id, NewItem(ItemKind.DISCOVERY, "step", due), now)
    for timer in new.timers:
        enqueue(tx, row, run.id, timer, now)
    for listener in new.listeners:
        tx.insert_listener(listener)


def _skip(tx: Tx, new: NewRun, reason: str, now: float, fresh: set[str]) -> Admission:
    follow_ups: list[FollowUp] = []
    for event_id in new.event_ids:
        if event_id in fresh:
            tx.insert_skip(event_id, new.function_slug, reason, now)
            tx.tally.skip(new.function_slug, reason)
        event = tx.event(event_id)
        refused = invoke_refused(event, reason) if event is not None else None
        if refused is not None:
            follow_ups.append(refused)  # the invoking parent's step fails at once
    return Admission(created=False, follow_ups=follow_ups)


def _idempotency(ctx: _Ctx) -> Admission | None:
    key = ctx.new.flow.idempotency
    if key is None:
        return None
    slug, now = ctx.new.function_slug, ctx.now
    if ctx.tx.reserve_key(slug, f"idempotency:{key}", ctx.new.id, now, now + IDEMPOTENCY_PERIOD):
        return None
    reason = f"idempotency key already used by another run within 24h; key {key}"
    return _skip(ctx.tx, ctx.new, reason, now, ctx.fresh)


def _rate_limit(ctx: _Ctx) -> Admission | None:
    rate = ctx.new.flow.rate_limit
    if rate is None:
        return None
    slug = ctx.new.function_slug
    ctx.tx.lock_keys([gate_lock(slug, "rate_limit", rate.key)])
    state = ctx.tx.gate(slug, "rate_limit", rate.key)
    decision, tat = gates.rate_limit_gate(state.tat if state else None, ctx.now, rate)
    if isinstance(decision, Skip):
        reason = f"{decision.reason}; rate limit key {rate.key}"
        return _skip(ctx.tx, ctx.new, reason, ctx.now, ctx.fresh)
    ctx.tx.set_gate(slug, "rate_limit", rate.key, GateState(tat=tat))
    return None


def gate_lock(slug: str, gate: str, key: str) -> str:
    """The lock name of a gate's state for one key (held across its read-modify-write)."""
    return f"{gate}:{slug}:{key}"


def _pending(tx: Tx, slug: str, gate: str, key: str) -> tuple[GateState, RunRow] | None:
    """The run a debounce or batch is collecting into, while it has not started."""
    tx.lock_keys([gate_lock(slug, gate, key)])
    state = tx.gate(slug, gate, key)
    if state is None or state.run_id is None:
        return None
    row = tx.run(state.run_id)
    if row is None or row.run.status is not RunStatus.QUEUED:
        return None
    return state, row


def _event_bytes(tx: Tx, event_id: str) -> int:
    event = tx.event(event_id)
    return 0 if event is None else len(orjson.dumps(event.to_wire()))


def _batch(ctx: _Ctx) -> Admission | None:
    batch = ctx.new.flow.batch
    if batch is None:
        return None
    tx, new, now = ctx.tx, ctx.new, ctx.now
    slug = new.function_slug
    pending = _pending(tx, slug, "batch", batch.key)
    buffer: BatchState | None = None
    if pending is not None:
        state, row = pending
        buffer = BatchState(
            row.run.event_ids,
            state.first_at,
            state.first_at + (batch.timeout or 0.0),
            state.size_bytes,
        )
    full = False
    for event_id in new.event_ids:
        buffer, full = gates.batch_gate(buffer, event_id, _event_bytes(tx, event_id), now, batch)
        if full:
            break
    assert buffer is not None
    if pending is None:
        _open_batch(ctx, batch, buffer, full)
        return Admission(created=True)
    state, row = pending
    added = [e for e in buffer.event_ids if e not in row.run.event_ids]
    if added:
        tx.set_run_events(row.run.id, buffer.event_ids, ())
    if full:
        # Full: start now, and the next event opens a new batch.
        tx.reschedule_start(row.run.id, now, now - row.priority)
        tx.clear_gate(slug, "batch", batch.key)
    else:
        tx.set_gate(
            slug,
            "batch",
            batch.key,
            GateState(
                run_id=row.run.id,
                first_at=state.first_at,
                size=len(buffer.event_ids),
                size_bytes=buffer.size_bytes,
            ),
        )
    return Admission(created=False)


def _open_batch(ctx: _Ctx, batch: Buffer, buffer: BatchState, full: bool) -> None:
    new, now = ctx.new, ctx.now
    insert_run(ctx.tx, new, now if full else buffer.due_at, now)
    if not full:
        ctx.tx.tally.delay(new.function_slug, BATCH)
        state = GateState(
            run_id=new.id, first_at=now, size=len(buffer.event_ids), size_bytes=buffer.size_bytes
        )
        ctx.tx.set_gate(new.function_slug, "batch", batch.key, state)


def _debounce(ctx: _Ctx) -> Admission | None:
    debounce = ctx.new.flow.debounce
    if debounce is None:
        return None
    tx, new, now = ctx.tx, ctx.new, ctx.now
    slug = new.function_slug
    event_id = new.event_ids[-1]
    event = tx.event(event_id)
    event_ts = float(event.ts) if event is not None else now * 1000
    pending = _pending(tx, slug, "debounce", debounce.key)
    if pending is None:
        fresh_state = gates.debounce_gate(None, event_id, event_ts, now, debounce)
        insert_run(tx, new, fresh_state.due_at, now)
        tx.tally.delay(slug, DEBOUNCE)
        tx.set_gate(slug, "debounce", debounce.key, GateState(run_id=new.id, first_at=now))
        return Admission(created=True)
    state, row = pending
    run = row.run
    held = tx.event(run.event_ids[-1]) if run.event_ids else None
    deadline = None if debounce.timeout is None else state.first_at + debounce.timeout
    current = DebounceState(
        event_id=run.event_ids[-1] if run.event_ids else "",
        first_at=state.first_at,
        due_at=now,
        deadline=deadline,
        event_ts=float(held.ts) if held is not None else None,
    )
    after = gates.debounce_gate(current, event_id, event_ts, now, debounce)
    if after is current:
        # An older event than the one the run holds: the run keeps the newer one.
        reason = f"debounced: run {run.id} holds a newer event"
        return _skip(tx, new, reason, now, ctx.fresh)
    for old in run.event_ids:
        reason = f"debounced: run {run.id} will receive a later event instead"
        tx.insert_skip(old, slug, reason, now)
        tx.tally.skip(slug, reason)
    tx.set_run_events(run.id, new.event_ids, run.event_ids)
    tx.reschedule_start(run.id, after.due_at, after.due_at - row.priority)
    tx.tally.delay(slug, DEBOUNCE)
    return Admission(created=False)


def _singleton(ctx: _Ctx) -> Admission | None:
    flow = ctx.new.flow
    if flow.singleton is None:
        return None
    ctx.tx.lock_keys([gate_lock(ctx.new.function_slug, "singleton", flow.singleton)])
    active = ctx.tx.active_singleton(ctx.new.function_slug, flow.singleton)
    decision = gates.singleton_gate(active, flow.singleton_mode)
    if isinstance(decision, Skip):
        reason = f"{decision.reason}; singleton key {flow.singleton}"
        return _skip(ctx.tx, ctx.new, reason, ctx.now, ctx.fresh)
    if isinstance(decision, CancelThen):
        state = run_state(ctx.tx, decision.run_id)
        if state is not None:
            reason = f"singleton: replaced by run {ctx.new.id}"
            error = finishing.standard_error("FunctionCancelled", reason)
            events = finishing.for_finish(
                state, Finish(RunStatus.CANCELLED, output=error, error=error), ctx.now
            )
            ctx.cancel(Cancellation(decision.run_id, error, tuple(events)))
    return None


def _throttle(ctx: _Ctx) -> Admission | None:
    rate = ctx.new.flow.throttle
    if rate is None:
        return None
    slug = ctx.new.function_slug
    ctx.tx.lock_keys([gate_lock(slug, "throttle", rate.key)])
    state = ctx.tx.gate(slug, "throttle", rate.key)
    decision, tat = gates.throttle_gate(state.tat if state else None, ctx.now, rate)
    ctx.tx.set_gate(slug, "throttle", rate.key, GateState(tat=tat))
    if isinstance(decision, Delay):
        ctx.due = max(ctx.due, decision.until)
        ctx.tx.tally.delay(slug, THROTTLE)
    return None


_GATES: dict[str, Callable[[_Ctx], Admission | None]] = {
    "idempotency": _idempotency,
    "rate_limit": _rate_limit,
    "batch": _batch,
    "debounce": _debounce,
    "singleton": _singleton,
    "throttle": _throttle,
}
