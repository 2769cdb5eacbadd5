"""A PostgreSQL store's write lanes (``pg_lanes``): the completions of different runs are
written by two connections at once, and the wake-ups they send are the process's own."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

import pytest

from inlet.model import Attempt, ItemKind, Memo, NewItem, Outcome
from inlet.store.base import Claim
from inlet.store.postgres import PostgresStore, migrate

from .test_contract import DAY, NOW, event, new_run


@pytest.fixture
async def store(pg_url: str) -> AsyncIterator[PostgresStore]:
    migrate(pg_url)
    one = PostgresStore(pg_url, lanes=2)
    await one.open()
    try:
        yield one
    finally:
        await one.close()


def _step(claim: Claim) -> Outcome:
    memo = Memo("one", {"data": 1}, "one", "StepRun")
    attempt = Attempt(claim.item.run_id, claim.item.id, "one", 0, NOW, NOW, "step", 206)
    return Outcome(
        attempt=attempt, memos=(memo,), enqueue=(NewItem(ItemKind.DISCOVERY, "step", NOW),)
    )


async def test_a_run_s_completion_commits_while_the_other_lane_s_transaction_is_open(
    store: PostgresStore,
) -> None:
    # With one store thread, a completion queued behind a transaction waited for it to
    # end, whatever runs each touched: one connection writes one statement at a time.
    lanes: dict[int, int] = {}
    n = 0
    while len(lanes) < 2:  # a run on each lane
        n += 1
        lanes.setdefault(hash(new_run(n, event(n)).id) % 2, n)
    for k in lanes.values():
        ev = event(k)
        await store.ingest([ev], [new_run(k, ev)], NOW, DAY)
    claims = {c.item.run_id: c for c in await store.claim(NOW, 2, NOW + 60, "w")}
    first = claims[new_run(lanes[0], event(lanes[0])).id]
    other = claims[new_run(lanes[1], event(lanes[1])).id]
    gate = threading.Event()
    held = asyncio.ensure_future(store._write(gate.wait, 10))  # the first lane's transaction
    await asyncio.sleep(0.05)
    behind = asyncio.ensure_future(store.complete(first, _step(first), NOW, DAY))
    assert await asyncio.wait_for(store.complete(other, _step(other), NOW, DAY), 5)
    await asyncio.sleep(0.05)
    assert not behind.done()  # the first lane's completion waits its turn
    gate.set()
    await held
    assert await asyncio.wait_for(behind, 5)
    for claim in (first, other):
        state = await store.run_state(claim.item.run_id)
        assert state is not None and [m.step_id for m in state.memos] == ["one"]


async def test_the_wake_ups_of_every_lane_are_known_as_the_process_s_own(
    store: PostgresStore,
) -> None:
    pids = store._pids()
    assert len(pids) == 2 and 0 not in pids
