"""The engine's entry points: ingest, cancel and complete, as one work list.

Applying one change can start others: a cancelled run's ``finished`` event starts runs
and resolves its invoking parent; a singleton replaces a run; a call's outcome emits
events. Instead of calling back up (ingest → cancel → ingest), each step returns its
follow-ups and :func:`ingest` drains them in order, in the same transaction.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace

from inlet.ids import new_ulid
from inlet.model import (
    STEP_DISCOVERY,
    Cancellation,
    Event,
    ItemKind,
    ListenerKind,
    NewItem,
    NewRun,
    Outcome,
    QueueItem,
    Resume,
    Run,
    RunStatus,
    SkipSet,
    StoredMemo,
)
from inlet.steps.ops import STEP_MEMOS
from inlet.store.base import DEFERS_START, CallEnd, Claim, Completed, IngestResult, Next
from inlet.store.engine import history
from inlet.store.engine.admit import create_plain_runs, create_run, queued_run
from inlet.store.engine.queue import (
    claim_created,
    drop_run_work,
    enqueue,
    first_call,
    plan,
    planned_claim,
    release,
)
from inlet.store.engine.tx import FirstLease, Keys, RunRow, Tx
from inlet.store.engine.waits import early_event, resume


@dataclass(frozen=True, slots=True)
class Batch:
    """Events to store and what they start, resolve and cancel."""

    events: Sequence[Event] = ()
    runs: Sequence[NewRun] = ()
    resumes: Sequence[Resume] = ()
    cancels: Sequence[Cancellation] = ()
    skips: Sequence[SkipSet] = ()
    """Why some events start no run of some functions (their trigger's expression)."""


Work = Batch | Resume | Cancellation


def ingest(
    tx: Tx,
    batch: Batch,
    now: float,
    key_ttl: float,
    then: Next | None = None,
    leases: Iterator[int] | None = None,
) -> IngestResult:
    """Store the batch's events, create the runs they start, resolve waiting steps and
    cancel runs; then whatever those start, until nothing is left. The result speaks of
    ``batch`` itself, not of its follow-ups. With ``then``, the created runs' first calls
    are leased as ``Store.ingest`` says (lease ``owner:n``, ``n`` from ``leases``)."""
    work: deque[Work] = deque()
    result = _ingest(tx, batch, now, key_ttl, work)
    while work:
        item = work.popleft()
        if isinstance(item, Resume):
            resume(tx, item, now)
        elif isinstance(item, Cancellation):
            cancel(tx, item, now, work)
        else:
            _ingest(tx, item, now, key_ttl, work)
    if then is None or leases is None or not result.run_ids or then.calls < 1:
        return result
    owner = then.owner

    def lease() -> str:
        return f"{owner}:{next(leases)}"

    events = {event.internal_id: event for event in batch.events}
    # Runs as created (nothing else in the batch changed them): no need to read them back.
    known = _AsCreated({new.id: new for new in batch.runs if new.plain}, now)
    claims = claim_created(
        tx, result.run_ids, known, events, now, then.calls, then.lease_until, lease
    )
    return replace(result, claims=tuple(claims))


class _AsCreated(Mapping[str, Run]):
    """Runs as ``queued_run`` makes them from their ``NewRun``, each made when asked: a
    claim of the created runs takes its first few of a batch's hundreds."""

    __slots__ = ("_news", "_now")

    def __init__(self, news: dict[str, NewRun], now: float) -> None:
        self._news, self._now = news, now

    def __getitem__(self, run_id: str) -> Run:
        return queued_run(self._news[run_id], self._now)

    def __contains__(self, run_id: object) -> bool:
        return run_id in self._news

    def __iter__(self) -> Iterator[str]:
        return iter(self._news)

    def __len__(self) -> int:
        return len(self._news)


def _ingest(tx: Tx, batch: Batch, now: float, key_ttl: float, work: deque[Work]) -> IngestResult:
    skip_set = new_ulid(now) if batch.skips else None
    new_events = tx.insert_events(batch.events, skip_set) if batch.events else []
    fresh = set(new_events)
    skips = []
    for refused in batch.skips:  # of the events stored now only
        ids = tuple(e for e in refused.event_ids if e in fresh)
        if ids:
            skips.append(
                refused if len(ids) == len(refused.event_ids) else replace(refused, event_ids=ids)
            )
            tx.tally.skip(refused.function_slug, refused.reason, len(ids))
    if skips and skip_set is not None:
        tx.insert_skips(skips, now, skip_set)
    created = []
    together = create_plain_runs(tx, batch.runs, now, key_ttl)
    for new in batch.runs:
        if new.id in together:
            created.append(new.id)
            continue
        admission = create_run(tx, new, now, key_ttl, fresh, lambda c: cancel(tx, c, now, work))
        if admission.created:
            created.append(new.id)
        if admission.follow_ups:
            work.extend(admission.follow_ups)
    resumed = [r.listener_id for r in batch.resumes if resume(tx, r, now)]
    cancelled = [c.run_id for c in batch.cancels if cancel(tx, c, now, work)]
    return IngestResult(tuple(new_events), tuple(created), tuple(resumed), tuple(cancelled))


def cancel(tx: Tx, cancellation: Cancellation, now: float, work: deque[Work]) -> bool:
    """End the run as cancelled, if it has not ended; its events (and what they start)
    follow as work."""
    row = tx.run(cancellation.run_id)
    if row is None or row.run.status.ended:
        return False
    error = cancellation.error
    run = replace(row.run, status=RunStatus.CANCELLED, ended_at=now, output=error, error=error)
    tx.update_run(run)
    tx.tally.end(run.function_slug, RunStatus.CANCELLED)
    drop_run_work(tx, run.id, now)
    tx.record_attempt(history.cancelled(run.id, error, now))
    if cancellation.events or cancellation.runs or cancellation.resumes:
        work.append(Batch(cancellation.events, cancellation.runs, cancellation.resumes))
    return True


def _numbered(outcome: Outcome, step_count: int, now: float) -> list[StoredMemo]:
    """The outcome's memos as stored, numbered on from ``step_count``; a step's first
    output only (a later one in the same outcome would not be stored either)."""
    seen: set[str] = set()
    memos: list[StoredMemo] = []
    for memo in outcome.memos:
        if memo.step_id not in seen:
            seen.add(memo.step_id)
            seq = step_count + len(memos)
            memos.append(StoredMemo(memo.step_id, memo.value, memo.name, memo.op, seq, now))
    return memos


def revive(tx: Tx, run_id: str, now: float) -> bool:
    """Give a stuck run (not ended, nothing that moves it: see ``ReadModel.stuck_runs``) a
    discovery call due now, so the SDK carries it on from its memos. False, changing
    nothing, when the run has ended or something moves it after all."""
    row = tx.run(run_id)
    if row is None or row.run.status.ended or tx.has_branch(run_id):
        return False
    enqueue(tx, row, run_id, NewItem(ItemKind.DISCOVERY, STEP_DISCOVERY, now), now)
    tx.record_attempt(history.revived(run_id, now))
    return True


def complete(tx: Tx, claim: Claim, outcome: Outcome, now: float, key_ttl: float) -> bool:
    """Apply a call's outcome if ``claim``'s lease still holds (False, changing nothing,
    when it does not): record the attempt and memos, move the run on or finish it, queue
    what comes next, and ingest what the outcome emitted."""
    return complete_call(tx, claim, outcome, now, key_ttl, CallEnd(), iter(())).applied


Consumed = Callable[[], "int | None"]
"""A consume statement sent ahead: asked, it answers as ``Tx.consume_item`` would."""


def consume_early(
    tx: Tx, claim: Claim, outcome: Outcome, end: CallEnd, now: float
) -> Consumed | None:
    """The statement that consumes the claimed item, sent before :func:`complete_call`
    reads the run, where nothing there can refuse the outcome first (a retry is not
    consumed; an ending may be refused as ``moved``). None where it cannot be, or where
    the dialect has no such statement."""
    if outcome.retry_at is not None or (end.seen is not None and outcome.finish is not None):
        return None
    item = claim.item
    memos = _numbered(outcome, 0, now)
    return tx.consume_ahead(item.id, claim.lease, outcome.attempt, item.run_id, memos)


def changes_its_run_only(outcome: Outcome) -> bool:
    """Whether completing ``outcome`` writes to no run but its own (it emits no events,
    runs, resumes or cancellations; the items it unparks on a concurrency key are
    other runs' queue rows, not their state)."""
    return not (outcome.events or outcome.runs or outcome.resumes or outcome.cancels)


def complete_call(
    tx: Tx,
    claim: Claim,
    outcome: Outcome,
    now: float,
    key_ttl: float,
    end: CallEnd,
    leases: Iterator[int],
    sent: Consumed | None = None,
) -> Completed:
    """:func:`complete`, and what ``Store.complete_call`` adds: with ``end.seen``, an ending
    is refused (``moved``) if the run recorded steps since the claim; with ``end.then``, the
    run's next call is leased (``queue.first_call``; its lease is ``owner:n``, ``n``
    from ``leases``, as the store's claims make them) when the outcome only moved the run
    on. ``sent``: its :func:`consume_early`, sent already with a batch's others."""
    item = claim.item
    finish = outcome.finish
    seen, then = end.seen, end.then
    attempt = outcome.attempt
    # Sent before the row is read: answered with the row's read.
    consumed = sent if sent is not None else consume_early(tx, claim, outcome, end, now)
    row = tx.run(item.run_id)
    priority = row.priority if row is not None else 0.0
    alive = row is not None and not row.run.status.ended
    if (
        seen is not None
        and row is not None
        and alive
        and finish is not None
        and finish.status in DEFERS_START
        and row.run.step_count != seen
    ):
        return Completed(False, moved=True)
    # The write that consumes the item is also the lease check: no row, no lease. It
    # records the attempt, and the memos of a run that goes on (a step's first output).
    added: int | None = None
    memos: list[StoredMemo] = []
    if outcome.retry_at is not None:
        rank = outcome.retry_at - (0.0 if item.kind is ItemKind.TIMER else priority)
        held = tx.retry_item(item.id, claim.lease, outcome.retry_at, rank, attempt)
    else:
        memos = _numbered(outcome, row.run.step_count, now) if row is not None and alive else []
        if consumed is not None:
            added = consumed()
        else:
            added = tx.consume_item(item.id, claim.lease, attempt, item.run_id, memos)
        held = added is not None
    if not held:
        return Completed(False)
    freed = row is None or bool(row.keys)  # only calls of runs with concurrency keys hold slots
    if freed:
        release(tx, [item.id], now)
    if row is None or not alive:
        tx.delete_item(item.id)
        return Completed(True, freed=freed)
    run = row.run
    if added is None:  # a retry's memos, one at a time
        added = 0
        for stored in _numbered(outcome, run.step_count, now):
            if tx.insert_memo(run.id, replace(stored, seq=run.step_count + added)):
                added += 1
    for memo in outcome.memos:
        if memo.op not in STEP_MEMOS:  # a step that ran has no listener or timer to clear
            tx.drop_step_waits(run.id, memo.step_id)
    if run.status is RunStatus.QUEUED and item.kind is not ItemKind.TIMER:
        run = replace(run, status=RunStatus.RUNNING, started_at=outcome.attempt.started_at)
    if outcome.request_version is not None:
        run = replace(run, request_version=outcome.request_version)
    if outcome.force_plan is not None:
        run = replace(run, force_plan=outcome.force_plan)
    if added:
        run = replace(
            run, step_count=run.step_count + added, state_size=run.state_size + outcome.state_bytes
        )
    planned: list[tuple[QueueItem, float, Keys]] = []
    emits = not changes_its_run_only(outcome)
    if finish is not None:
        drop_run_work(tx, run.id, now)
        run = replace(
            run, status=finish.status, output=finish.output, error=finish.error, ended_at=now
        )
        tx.update_run(run)
        tx.tally.end(run.function_slug, finish.status)
    else:
        planned = plan(tx, row, run.id, outcome.enqueue, now)
        # Only a run that this outcome alone moved on: what it emits or waits for may
        # change it again, and a call of a run with concurrency keys needs the gate.
        moved_on = not (emits or outcome.listeners or freed)
        call = first_call(planned, now) if moved_on and then is not None else None
        if then is not None and call is not None and run.status is RunStatus.RUNNING:
            lease = f"{then.owner}:{next(leases)}"
            ask = FirstLease(call.id, lease, then.lease_until, now)
            # Not if the enqueue left it out (the run had that step queued) or other due
            # work ranks first; the answer comes with the commit's (``Completed.taken``).
            taken = tx.update_run_leasing(run, planned, ask)
            state = _known_state(claim, row, run, added, memos)
            nxt = planned_claim(tx, run, call, lease, state)
            return Completed(True, next=nxt, taken=taken)
        tx.update_run(run, planned)
        for listener in outcome.listeners:
            tx.insert_listener(listener)
            if listener.kind is ListenerKind.WAIT:
                early = early_event(tx, listener, outcome.attempt.started_at)
                if early is not None:
                    found = Resume(listener.id, run.id, listener.step_id, early.to_wire())
                    resume(tx, found, now)
    if emits:
        emitted = Batch(outcome.events, outcome.runs, outcome.resumes, outcome.cancels)
        ingest(tx, emitted, now, key_ttl)
    return Completed(True, freed=freed)


def _known_state(
    claim: Claim, row: RunRow, run: Run, added: int | None, memos: Sequence[StoredMemo]
) -> tuple[tuple[Event, ...], tuple[StoredMemo, ...]] | None:
    """The run's events and memos after this completion, when the claim's state and the
    memos it stored give them without a read."""
    state = claim.state
    if (
        state is not None
        and state.run.step_count == row.run.step_count
        and state.run.event_ids == run.event_ids
        and added == len(memos)
    ):
        return state.events, (*state.memos, *memos)
    return None
