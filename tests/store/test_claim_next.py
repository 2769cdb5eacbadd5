"""``Store.complete_call``: a completion that queues its run's next call due now leases it
in the same transaction when a claim would take it first, and an ending is refused when
the run recorded steps while the call was out (a TS v4 checkpoint may hold defers)."""

from __future__ import annotations

from dataclasses import replace

from inlet.model import Attempt, Cancellation, Finish, ItemKind, Memo, NewItem, Outcome, RunFlow
from inlet.model import RunStatus as Status
from inlet.steps.checkpoint import Checkpoint, StateLimits, Step, Verdict
from inlet.store.base import CallEnd, Claim, Next, Store

from .test_contract import DAY, NOW, event, new_run, one_run

LEASE = NOW + 30
THEN = CallEnd(then=Next(LEASE, "w"))


def step_done(claim: Claim, step: str, then: NewItem | None = None) -> Outcome:
    """The call of ``claim`` ran ``step``; its run goes on with ``then`` (its next step)."""
    return Outcome(
        attempt=Attempt.of(claim.item, NOW, "step"),
        memos=(Memo(step, {"data": step}, step, "StepRun"),),
        enqueue=(then or NewItem(ItemKind.STEP, f"after-{step}", NOW),),
    )


def finished(claim: Claim) -> Outcome:
    return Outcome(
        attempt=Attempt.of(claim.item, NOW, "completed"),
        finish=Finish(Status.COMPLETED, output="done"),
    )


async def first_claim(store: Store) -> Claim:
    await one_run(store)
    [claim] = await store.claim(NOW, 1, LEASE, "w")
    return claim


async def test_a_completion_that_queues_the_next_step_claims_it_in_the_same_transaction(
    store: Store,
) -> None:
    claim = await first_claim(store)
    done = await store.complete_call(claim, step_done(claim, "a"), NOW, DAY, THEN)
    assert done.applied and done.next is not None
    nxt = done.next
    assert (nxt.item.kind, nxt.item.step_id, nxt.item.run_id) == (
        ItemKind.STEP,
        "after-a",
        claim.item.run_id,
    )
    assert nxt.lease.startswith("w:") and nxt.lease != claim.lease
    # Leased: no claim takes it until the lease runs out, and its lease is the fence.
    assert await store.claim(NOW, 10, LEASE, "other") == []
    assert await store.next_due() == LEASE
    assert await store.complete(nxt, finished(nxt), NOW, DAY)
    run = await store.get_run(claim.item.run_id)
    assert run is not None and run.status is Status.COMPLETED


async def test_the_next_claim_carries_the_run_state_a_claim_would_load(store: Store) -> None:
    claim = await first_claim(store)
    done = await store.complete_call(claim, step_done(claim, "a"), NOW, DAY, THEN)
    assert done.next is not None and done.next.state is not None
    read = await store.run_state(claim.item.run_id)
    assert read is not None
    handed = done.next.state
    assert handed.run == read.run and handed.run.status is Status.RUNNING
    assert handed.events == read.events
    assert [(m.step_id, m.value, m.op, m.seq) for m in handed.memos] == [
        (m.step_id, m.value, m.op, m.seq) for m in read.memos
    ]
    assert [m.step_id for m in handed.memos] == ["a"]


async def test_a_chain_of_steps_runs_on_leases_handed_from_one_completion_to_the_next(
    store: Store,
) -> None:
    claim = await first_claim(store)
    for step in ("a", "b", "c"):
        done = await store.complete_call(claim, step_done(claim, step), NOW, DAY, THEN)
        assert done.applied and done.next is not None
        claim = done.next
    assert claim.state is not None
    assert [m.step_id for m in claim.state.memos] == ["a", "b", "c"]
    assert claim.state.run.step_count == 3


async def test_without_then_the_next_step_is_left_for_a_claim(store: Store) -> None:
    claim = await first_claim(store)
    done = await store.complete_call(claim, step_done(claim, "a"), NOW, DAY, CallEnd())
    assert done.applied and done.next is None and not done.freed
    [queued] = await store.claim(NOW, 10, LEASE, "w")
    assert queued.item.step_id == "after-a"


async def test_an_older_runs_due_work_is_claimed_before_the_next_step(store: Store) -> None:
    claim = await first_claim(store)
    other = event(2)
    older = replace(new_run(2, other), due_at=NOW - 1)
    await store.ingest([other], [older], NOW - 1, DAY)  # created first: its discovery ranks first
    done = await store.complete_call(claim, step_done(claim, "a"), NOW + 1, DAY, THEN)
    assert done.applied and done.next is None
    queued = await store.claim(NOW + 1, 10, LEASE, "w")
    assert [c.item.run_id for c in queued] == [new_run(2, other).id, claim.item.run_id]


async def test_an_older_runs_next_step_is_leased_before_a_newer_runs_first_call(
    store: Store,
) -> None:
    claim = await first_claim(store)  # run 1, created at NOW
    newer = event(2)
    run2 = replace(new_run(2, newer), due_at=NOW + 0.5)
    await store.ingest([newer], [run2], NOW + 0.5, DAY)
    then = NewItem(ItemKind.STEP, "after-a", NOW + 1)
    done = await store.complete_call(claim, step_done(claim, "a", then), NOW + 1, DAY, THEN)
    # Run 1's next step, due at NOW + 1, ranks at run 1's creation (NOW), before run 2's
    # first call (NOW + 0.5).
    assert done.applied and done.next is not None
    assert done.next.item.step_id == "after-a"
    [queued] = await store.claim(NOW + 1, 10, LEASE, "w")
    assert queued.item.run_id == run2.id


async def test_a_claim_takes_an_older_runs_step_before_a_newer_runs_first_call(
    store: Store,
) -> None:
    claim = await first_claim(store)
    newer = event(2)
    run2 = replace(new_run(2, newer), due_at=NOW + 0.5)
    await store.ingest([newer], [run2], NOW + 0.5, DAY)
    then = NewItem(ItemKind.STEP, "after-a", NOW + 1)
    assert await store.complete(claim, step_done(claim, "a", then), NOW + 1, DAY)
    first, second = await store.claim(NOW + 1, 10, LEASE, "w")
    assert (first.item.run_id, first.item.step_id) == (claim.item.run_id, "after-a")
    assert second.item.run_id == run2.id


async def test_a_step_due_later_or_a_timer_is_not_leased(store: Store) -> None:
    claim = await first_claim(store)
    later = NewItem(ItemKind.STEP, "later", NOW + 5)
    done = await store.complete_call(claim, step_done(claim, "a", later), NOW, DAY, THEN)
    assert done.applied and done.next is None
    assert await store.next_due() == NOW + 5
    [again] = await store.claim(NOW + 5, 1, NOW + 35, "w")
    timer = NewItem(ItemKind.TIMER, "nap", NOW + 5, payload={"memo": None})
    done = await store.complete_call(again, step_done(again, "b", timer), NOW + 5, DAY, THEN)
    assert done.applied and done.next is None


async def test_a_run_with_a_concurrency_key_goes_through_the_gate(store: Store) -> None:
    ev = event(1)
    limited = replace(new_run(1, ev), flow=RunFlow(concurrency=(("k", 1),)))
    await store.ingest([ev], [limited], NOW, DAY)
    [claim] = await store.claim(NOW, 1, LEASE, "w")
    done = await store.complete_call(claim, step_done(claim, "a"), NOW, DAY, THEN)
    assert done.applied and done.next is None and done.freed
    [queued] = await store.claim(NOW, 10, LEASE, "w")
    assert queued.item.step_id == "after-a"


async def test_an_outcome_that_emits_events_leaves_the_next_step_for_a_claim(
    store: Store,
) -> None:
    claim = await first_claim(store)
    outcome = replace(step_done(claim, "a"), events=(event(9, "app/sent"),))
    done = await store.complete_call(claim, outcome, NOW, DAY, THEN)
    assert done.applied and done.next is None
    assert [c.item.step_id for c in await store.claim(NOW, 10, LEASE, "w")] == ["after-a"]


async def test_a_lost_lease_applies_nothing_and_leases_nothing(store: Store) -> None:
    claim = await first_claim(store)
    stale = replace(claim, lease="w:stale")
    done = await store.complete_call(stale, step_done(claim, "a"), NOW, DAY, THEN)
    assert not done.applied and done.next is None
    assert await store.claim(NOW, 10, LEASE, "w") == []  # the first lease still holds it
    assert await store.next_due() == LEASE


def checkpointed(claim: Claim, step: str) -> Checkpoint:
    memo = Memo(step, {"data": step}, step, "StepRun")
    return Checkpoint(claim.item.run_id, claim.item.id, claim.lease, (Step(memo, None, 10),))


async def test_an_ending_is_refused_when_the_run_recorded_steps_while_the_call_was_out(
    store: Store,
) -> None:
    claim = await first_claim(store)
    assert claim.state is not None
    seen = CallEnd(seen=claim.state.run.step_count)
    limits = StateLimits(max_state_bytes=1 << 20, max_steps=100)
    assert await store.checkpoint(checkpointed(claim, "a"), limits, NOW) is Verdict.SAVED
    done = await store.complete_call(claim, finished(claim), NOW, DAY, seen)
    assert done.moved and not done.applied
    run = await store.get_run(claim.item.run_id)
    assert run is not None and run.status is Status.RUNNING
    # The lease still holds: the caller completes again once it has read the run.
    assert (await store.complete_call(claim, finished(claim), NOW, DAY, CallEnd())).applied


async def test_an_ending_is_applied_when_the_run_is_as_the_claim_saw_it(store: Store) -> None:
    claim = await first_claim(store)
    assert claim.state is not None
    seen = CallEnd(seen=claim.state.run.step_count)
    done = await store.complete_call(claim, finished(claim), NOW, DAY, seen)
    assert done.applied and not done.moved


async def test_a_step_of_a_run_cancelled_while_its_call_was_out_stores_nothing(
    store: Store,
) -> None:
    claim = await first_claim(store)
    cancel = Cancellation(claim.item.run_id, {"name": "Error", "message": "cancelled"})
    assert (await store.ingest([], [], NOW, DAY, cancels=[cancel])).cancelled
    done = await store.complete_call(claim, step_done(claim, "a"), NOW, DAY, THEN)
    assert not done.applied and done.next is None
    state = await store.run_state(claim.item.run_id)
    assert state is not None and state.memos == ()
    assert state.run.status is Status.CANCELLED and state.run.step_count == 0
