"""The store contract for TS v4 checkpoints (``Store.checkpoint``), on memory, SQLite and
PostgreSQL: the steps become memos and history rows as a 206 reply's would, the call's
attempt goes back to 0, a step sent twice is recorded once, and nothing at all is written
for a dispatch whose lease is gone, a run that ended or one that would pass its limits."""

from __future__ import annotations

from inlet.model import Attempt, Finish, Memo, Outcome, RunStatus
from inlet.steps.checkpoint import Checkpoint, StateLimits, Step, Verdict
from inlet.store import Store
from inlet.store.base import Claim

from .test_contract import DAY, NOW, event, new_run, one_run

LIMITS = StateLimits(max_state_bytes=10_000, max_steps=100)


def checkpoint(claim: Claim, *names: str, lease: str | None = None, size: int = 10) -> Checkpoint:
    item = claim.item
    steps = tuple(
        Step(
            memo=Memo(name, {"data": name}, name, "StepRun"),
            attempt=Attempt(
                run_id=item.run_id,
                item_id=item.id,
                step_id=name,
                attempt=0,
                started_at=NOW,
                ended_at=NOW,
                outcome="step",
                status_code=200,
                name=name,
                output=name,
                op_step=name,
            ),
            size=size,
        )
        for name in names
    )
    return Checkpoint(item.run_id, item.id, claim.lease if lease is None else lease, steps)


async def test_steps_become_memos_and_history_rows_in_order(store: Store) -> None:
    run_id = await one_run(store)
    [claim] = await store.claim(NOW, 1, NOW + 30, "w")

    assert await store.checkpoint(checkpoint(claim, "a", "b"), LIMITS, NOW + 1) is Verdict.SAVED
    assert await store.checkpoint(checkpoint(claim, "c"), LIMITS, NOW + 2) is Verdict.SAVED

    state = await store.run_state(run_id)
    assert state is not None
    assert [(m.step_id, m.value, m.op) for m in state.memos] == [
        ("a", {"data": "a"}, "StepRun"),
        ("b", {"data": "b"}, "StepRun"),
        ("c", {"data": "c"}, "StepRun"),
    ]
    assert state.run.status is RunStatus.RUNNING
    assert (state.run.step_count, state.run.state_size) == (3, 30)
    rows = await store.history(run_id)
    assert [(r.outcome, r.op_step) for r in rows] == [("step", "a"), ("step", "b"), ("step", "c")]


async def test_a_step_checkpointed_twice_is_recorded_once(store: Store) -> None:
    run_id = await one_run(store)
    [claim] = await store.claim(NOW, 1, NOW + 30, "w")
    await store.checkpoint(checkpoint(claim, "a"), LIMITS, NOW + 1)

    assert await store.checkpoint(checkpoint(claim, "a", "b"), LIMITS, NOW + 2) is Verdict.SAVED

    state = await store.run_state(run_id)
    assert state is not None and [m.step_id for m in state.memos] == ["a", "b"]
    assert state.run.step_count == 2 and len(await store.history(run_id)) == 2


async def test_the_attempt_of_the_call_goes_back_to_zero(store: Store) -> None:
    run_id = await one_run(store)
    [first] = await store.claim(NOW, 1, NOW + 30, "w")
    retry = Outcome(attempt=Attempt.of(first.item, NOW, "retry"), retry_at=NOW + 1)
    assert await store.complete(first, retry, NOW, DAY)
    [second] = await store.claim(NOW + 1, 1, NOW + 31, "w")
    assert second.item.attempt == 1

    assert await store.checkpoint(checkpoint(second, "a"), LIMITS, NOW + 2) is Verdict.SAVED
    retry = Outcome(attempt=Attempt.of(second.item, NOW + 2, "retry"), retry_at=NOW + 3)
    assert await store.complete(second, retry, NOW + 2, DAY)

    [third] = await store.claim(NOW + 3, 1, NOW + 33, "w")
    assert third.item.run_id == run_id and third.item.attempt == 1


async def test_a_lease_taken_over_makes_the_checkpoint_stale_and_writes_nothing(
    store: Store,
) -> None:
    run_id = await one_run(store)
    [stale] = await store.claim(NOW, 1, NOW + 30, "a")
    [current] = await store.claim(NOW + 31, 1, NOW + 61, "b")

    verdict = await store.checkpoint(checkpoint(stale, "a"), LIMITS, NOW + 32)

    assert verdict is Verdict.STALE
    state = await store.run_state(run_id)
    assert state is not None and state.memos == () and await store.history(run_id) == []
    assert current.item.attempt == 0


async def test_a_lease_released_at_a_restart_makes_the_checkpoint_stale(store: Store) -> None:
    await one_run(store)
    [claim] = await store.claim(NOW, 1, NOW + 30, "a")
    await store.release_all()

    # A single-process store drops every lease when it starts again; a shared one leaves
    # them to run out (another process may hold them), and the next claim takes over.
    if not store.shared:
        assert await store.checkpoint(checkpoint(claim, "a"), LIMITS, NOW + 1) is Verdict.STALE
    await store.claim(NOW + 31, 1, NOW + 61, "restarted")
    assert await store.checkpoint(checkpoint(claim, "a"), LIMITS, NOW + 32) is Verdict.STALE


async def test_a_lease_of_another_run_is_no_fence_for_this_one(store: Store) -> None:
    first, second = event(1), event(2)
    await store.ingest([first, second], [new_run(1, first), new_run(2, second)], NOW, DAY)
    [claim] = await store.claim(NOW, 1, NOW + 30, "a")
    other = (
        new_run(2, second).id if claim.item.run_id == new_run(1, first).id else new_run(1, first).id
    )
    forged = Checkpoint(other, claim.item.id, claim.lease, checkpoint(claim, "a").steps)

    assert await store.checkpoint(forged, LIMITS, NOW + 1) is Verdict.STALE
    state = await store.run_state(other)
    assert state is not None and state.memos == ()


async def test_a_run_that_ended_takes_no_checkpoint(store: Store) -> None:
    await one_run(store)
    [claim] = await store.claim(NOW, 1, NOW + 30, "a")
    done = Outcome(
        attempt=Attempt.of(claim.item, NOW, "completed"), finish=Finish(RunStatus.COMPLETED)
    )
    assert await store.complete(claim, done, NOW, DAY)

    assert await store.checkpoint(checkpoint(claim, "a"), LIMITS, NOW + 2) is Verdict.STALE


async def test_limits_refuse_the_whole_checkpoint(store: Store) -> None:
    run_id = await one_run(store)
    [claim] = await store.claim(NOW, 1, NOW + 30, "a")
    small = StateLimits(max_state_bytes=25, max_steps=100)
    few = StateLimits(max_state_bytes=10_000, max_steps=2)

    assert await store.checkpoint(checkpoint(claim, "a", "b", "c"), small, NOW) is (
        Verdict.OVER_LIMIT
    )
    assert await store.checkpoint(checkpoint(claim, "a", "b", "c"), few, NOW) is (
        Verdict.OVER_LIMIT
    )

    state = await store.run_state(run_id)
    assert state is not None and state.memos == () and state.run.step_count == 0


async def test_an_unknown_run_is_missing(store: Store) -> None:
    await one_run(store)
    [claim] = await store.claim(NOW, 1, NOW + 30, "a")
    unknown = Checkpoint("01NOSUCHRUN", claim.item.id, claim.lease, ())

    assert await store.checkpoint(unknown, LIMITS, NOW) is Verdict.MISSING
