"""A call's memos are stored with the lease check (one statement on PostgreSQL): a step's
first output only, numbered on from the run's step count as if inserted one at a time."""

from __future__ import annotations

from inlet.model import ItemKind, Memo, NewItem, Outcome
from inlet.store.base import Store

from .test_contract import DAY, NOW, attempt, one_run


async def test_memos_already_stored_or_repeated_are_skipped_and_the_rest_numbered_on(
    store: Store,
) -> None:
    run_id = await one_run(store)
    first = (await store.claim(NOW, 1, NOW + 30, "w"))[0]
    go_on = (NewItem(ItemKind.DISCOVERY, "step", NOW),)
    a = Outcome(
        attempt=attempt(run_id, first.item.id),
        memos=(Memo("a", 1, "a", "StepRun"),),
        enqueue=go_on,
        state_bytes=1,
    )
    assert await store.complete(first, a, NOW, DAY)
    second = (await store.claim(NOW + 1, 1, NOW + 31, "w"))[0]
    memos = tuple(
        Memo(step, value, step, "StepRun")
        for step, value in (("a", 9), ("b", 2), ("b", 8), ("c", 3))
    )
    outcome = Outcome(
        attempt=attempt(run_id, second.item.id), memos=memos, enqueue=go_on, state_bytes=2
    )
    assert await store.complete(second, outcome, NOW + 1, DAY)
    state = await store.run_state(run_id)
    assert state is not None
    assert [(m.step_id, m.value, m.seq) for m in state.memos] == [
        ("a", 1, 0),
        ("b", 2, 1),
        ("c", 3, 2),
    ]
    assert state.run.step_count == 3 and state.run.state_size == 3
    assert [h.item_id for h in await store.history(run_id)] == [first.item.id, second.item.id]


async def test_a_lost_lease_stores_no_memo_and_no_attempt(store: Store) -> None:
    run_id = await one_run(store)
    stale = (await store.claim(NOW, 1, NOW + 30, "a"))[0]
    await store.claim(NOW + 31, 1, NOW + 61, "b")
    outcome = Outcome(attempt=attempt(run_id, stale.item.id), memos=(Memo("a", 1, "a", "StepRun"),))
    assert not await store.complete(stale, outcome, NOW + 32, DAY)
    state = await store.run_state(run_id)
    assert state is not None and state.memos == () and state.run.step_count == 0
    assert await store.history(run_id) == []


async def test_a_single_memo_is_numbered_on_and_skipped_when_its_step_has_one(
    store: Store,
) -> None:
    # PostgreSQL sends one memo as values, several as a JSON array: same result.
    run_id = await one_run(store)
    go_on = (NewItem(ItemKind.DISCOVERY, "step", NOW),)
    for k, (step, value) in enumerate((("a", 1), ("a", 7), (None, None), ("b", 2))):
        claim = (await store.claim(NOW + k, 1, NOW + k + 30, "w"))[0]
        memos = () if step is None else (Memo(step, value, step, "StepRun"),)
        outcome = Outcome(
            attempt=attempt(run_id, claim.item.id), memos=memos, enqueue=go_on, state_bytes=1
        )
        assert await store.complete(claim, outcome, NOW + k, DAY)
    state = await store.run_state(run_id)
    assert state is not None
    assert [(m.step_id, m.value, m.seq) for m in state.memos] == [("a", 1, 0), ("b", 2, 1)]
    assert state.run.step_count == 2
    assert len(await store.history(run_id)) == 4
