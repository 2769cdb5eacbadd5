"""``Store.claim(timers_ahead=...)``: a claim also leases the timers due within that many
seconds, keeping their due time, so the worker fires each at its time without a claim of
its own; the lease fences off a step resolved or a run ended in the meantime."""

from __future__ import annotations

from inlet.model import Attempt, Cancellation, ItemKind, NewItem, Outcome
from inlet.store.base import Claim, Store

from .test_contract import DAY, NOW, event, new_run
from .test_timer_next import fired

WOKEN = NOW + 5


async def napping(store: Store, n: int, until: float) -> str:
    """Run ``n``, whose first call went to sleep until ``until``; its id."""
    ev = event(n)
    await store.ingest([ev], [new_run(n, ev)], NOW, DAY)
    [call] = await store.claim(NOW, 1, NOW + 30, "w")
    nap = NewItem(ItemKind.TIMER, "nap", until, payload={"memo": None})
    outcome = Outcome(attempt=Attempt.of(call.item, NOW, "sleep"), enqueue=(nap,))
    assert await store.complete(call, outcome, NOW, DAY)
    return call.item.run_id


async def test_a_claim_leases_the_timers_due_within_its_window(store: Store) -> None:
    first = await napping(store, 1, WOKEN)
    soon = await napping(store, 2, WOKEN + 0.03)
    await napping(store, 3, WOKEN + 0.2)
    claimed = await store.claim(WOKEN, 10, WOKEN + 30, "w", timers=10, timers_ahead=0.05)
    assert [(c.item.run_id, c.item.due_at) for c in claimed] == [
        (first, WOKEN),
        (soon, WOKEN + 0.03),  # its own time, for the worker to wait for
    ]
    assert all(c.item.kind is ItemKind.TIMER and c.state is not None for c in claimed)
    # Leased: nobody claims them again; the one outside the window is next.
    assert await store.claim(WOKEN + 0.1, 10, WOKEN + 30, "x", timers=10) == []
    assert await store.next_due() == WOKEN + 0.2


async def test_without_a_window_only_due_timers_are_leased(store: Store) -> None:
    await napping(store, 1, WOKEN)
    await napping(store, 2, WOKEN + 0.03)
    [claimed] = await store.claim(WOKEN, 10, WOKEN + 30, "w", timers=10)
    assert claimed.item.due_at == WOKEN


async def test_a_timer_leased_ahead_of_a_run_cancelled_meanwhile_fires_nothing(
    store: Store,
) -> None:
    run = await napping(store, 1, WOKEN + 0.03)
    [timer] = await store.claim(WOKEN, 10, WOKEN + 30, "w", timers=10, timers_ahead=0.05)
    cancel = Cancellation(run, {"name": "Error", "message": "cancelled"})
    assert (await store.ingest([], [], WOKEN + 0.01, DAY, cancels=[cancel])).cancelled
    at_time = Claim(timer.item, timer.lease, timer.state)
    assert not await store.complete(at_time, fired(at_time), WOKEN + 0.03, DAY)
    state = await store.run_state(run)
    assert state is not None and [m.step_id for m in state.memos] == []
