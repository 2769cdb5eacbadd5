"""A call's next items are queued with its run's row (one statement on PostgreSQL); an
item that only joins a parallel group still sees the branches queued before it."""

from __future__ import annotations

from inlet.model import ItemKind, Memo, NewItem, Outcome
from inlet.store.base import Store

from .test_contract import DAY, NOW, attempt, one_run


async def test_a_join_queued_after_a_branch_of_the_same_outcome_waits_for_it(store: Store) -> None:
    run_id = await one_run(store)
    claim = (await store.claim(NOW, 1, NOW + 30, "w"))[0]
    outcome = Outcome(
        attempt=attempt(run_id, claim.item.id),
        memos=(Memo("a", 1, "a", "StepRun"),),
        enqueue=(
            NewItem(ItemKind.STEP, "b", NOW),
            NewItem(ItemKind.DISCOVERY, "step", NOW, after_join=True),
        ),
    )
    assert await store.complete(claim, outcome, NOW, DAY)
    queued = await store.claim(NOW, 10, NOW + 30, "w")
    assert [(c.item.kind, c.item.step_id) for c in queued] == [(ItemKind.STEP, "b")]
    state = queued[0].state
    assert state is not None and state.run.step_count == 1
