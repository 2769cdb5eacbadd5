"""``Store.complete_call`` for a fired timer: a sleep's end queues its run's next call due
now, and with ``end.then`` the same transaction leases it, as it does after a step, when
a claim would take it first."""

from __future__ import annotations

from dataclasses import replace

from inlet.model import Attempt, ItemKind, NewItem, Outcome, RunFlow
from inlet.model import RunStatus as Status
from inlet.steps import timers
from inlet.store.base import CallEnd, Claim, Next, Store

from .test_contract import DAY, NOW, event, new_run

WOKEN = NOW + 5
"""When the sleep ends."""
THEN = CallEnd(then=Next(WOKEN + 30, "w"))


async def asleep(store: Store, flow: RunFlow | None = None) -> Claim:
    """A run whose first call went to sleep until ``WOKEN``: its timer, claimed then."""
    ev = event(1)
    run = new_run(1, ev) if flow is None else replace(new_run(1, ev), flow=flow)
    await store.ingest([ev], [run], NOW, DAY)
    [call] = await store.claim(NOW, 1, NOW + 30, "w")
    nap = NewItem(ItemKind.TIMER, "nap", WOKEN, payload={"memo": None})
    outcome = Outcome(attempt=Attempt.of(call.item, NOW, "sleep"), enqueue=(nap,))
    assert await store.complete(call, outcome, NOW, DAY)
    [timer] = await store.claim(WOKEN, 1, WOKEN + 30, "w", timers=1)
    assert timer.item.kind is ItemKind.TIMER
    return timer


def fired(timer: Claim) -> Outcome:
    assert timer.state is not None
    return timers.fire(timer.item, timer.state, WOKEN)


async def test_a_fired_timer_leases_the_run_s_next_call_when_asked(store: Store) -> None:
    timer = await asleep(store)
    done = await store.complete_call(timer, fired(timer), WOKEN, DAY, THEN)
    assert done.applied and done.next is not None and not done.freed
    nxt = done.next
    assert (nxt.item.kind, nxt.item.run_id) == (ItemKind.DISCOVERY, timer.item.run_id)
    assert nxt.lease.startswith("w:") and nxt.lease != timer.lease
    assert nxt.state is not None and nxt.state.run.status is Status.RUNNING
    assert [m.step_id for m in nxt.state.memos] == ["nap"]  # the sleep's memo, just stored
    # Leased: no claim takes it, and its lease is the fence for its completion.
    assert await store.claim(WOKEN, 10, WOKEN + 30, "other", timers=10) == []
    assert await store.next_due() == WOKEN + 30


async def test_without_then_a_fired_timer_leaves_the_next_call_for_a_claim(store: Store) -> None:
    timer = await asleep(store)
    done = await store.complete_call(timer, fired(timer), WOKEN, DAY, CallEnd())
    assert done.applied and done.next is None
    [queued] = await store.claim(WOKEN, 10, WOKEN + 30, "w")
    assert (queued.item.kind, queued.item.run_id) == (ItemKind.DISCOVERY, timer.item.run_id)


async def test_a_fired_timer_leases_nothing_when_other_work_ranks_first(store: Store) -> None:
    timer = await asleep(store)
    other = event(2)
    older = replace(new_run(2, other), due_at=NOW - 1)
    await store.ingest([other], [older], NOW - 1, DAY)  # a run created before the sleeper
    done = await store.complete_call(timer, fired(timer), WOKEN, DAY, THEN)
    assert done.applied and done.next is None
    queued = await store.claim(WOKEN, 10, WOKEN + 30, "w")
    assert [c.item.run_id for c in queued] == [older.id, timer.item.run_id]


async def test_a_woken_run_goes_before_runs_created_after_it(store: Store) -> None:
    timer = await asleep(store)
    other = event(2)
    await store.ingest([other], [new_run(2, other)], NOW + 1, DAY)  # due before the wake-up
    done = await store.complete_call(timer, fired(timer), WOKEN, DAY, THEN)
    # Its next call ranks at its creation (NOW), before the newer run's first call.
    assert done.applied and done.next is not None
    assert done.next.item.run_id == timer.item.run_id
    [queued] = await store.claim(WOKEN, 10, WOKEN + 30, "w")
    assert queued.item.run_id == new_run(2, other).id


async def test_a_fired_timer_of_a_run_with_a_concurrency_key_leaves_it_to_the_gate(
    store: Store,
) -> None:
    timer = await asleep(store, RunFlow(concurrency=(("k", 1),)))
    done = await store.complete_call(timer, fired(timer), WOKEN, DAY, THEN)
    assert done.applied and done.next is None
    [queued] = await store.claim(WOKEN, 10, WOKEN + 30, "w")
    assert queued.item.kind is ItemKind.DISCOVERY


async def test_a_timer_resolved_before_it_fired_leases_nothing(store: Store) -> None:
    timer = await asleep(store)
    skipped = Outcome(attempt=replace(Attempt.of(timer.item, WOKEN, "timer"), outcome="skipped"))
    done = await store.complete_call(timer, skipped, WOKEN, DAY, THEN)
    assert done.applied and done.next is None
    assert await store.claim(WOKEN, 10, WOKEN + 30, "w") == []
