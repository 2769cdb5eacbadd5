"""``Applier.complete_call``: a run that ends starts its deferred runs from the claim's
state, reading the run again only when it recorded steps while the call was out; a next
step leased by the completion is not a reason to wake the worker."""

from __future__ import annotations

from inlet.model import (
    Attempt,
    Event,
    Finish,
    Function,
    ItemKind,
    Memo,
    NewItem,
    Outcome,
    RunState,
    RunStatus,
    Trigger,
)
from inlet.runs.apply import Applier
from inlet.runs.registry import Registry
from inlet.runs.router import Router
from inlet.steps.checkpoint import Checkpoint, StateLimits, Step, Verdict
from inlet.steps.defer import SCHEDULE
from inlet.store.base import Claim, Next
from inlet.store.memory import MemoryStore

NOW = 1_800_000_000.0
ORDER = Event(internal_id="E1", name="app/order", data={"id": 7}, id="order-7", ts=1)
LIMITS = StateLimits(max_state_bytes=1 << 20, max_steps=100)
DEFER = Memo(
    "d" * 40, {"fn_slug": "app-later", "status": "after_run", "input": {}}, "d", "DeferAdd"
)


class ReadCounting(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.state_reads = 0

    async def run_state(self, run_id: str) -> RunState | None:
        self.state_reads += 1
        return await super().run_state(run_id)


class Wakes:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


def functions() -> Registry:
    later = "event.data._inngest.fn_slug == 'app-later'"
    return Registry(
        [
            Function("app-fn", "http://a", "fn", "http://a", (Trigger(event="app/order"),)),
            Function("app-later", "http://a", "l", "http://a", (Trigger(SCHEDULE, later),)),
        ]
    )


async def started(store: ReadCounting) -> tuple[Applier, Wakes, Claim]:
    registry = functions()
    wakes = Wakes()
    applier = Applier(store, Router(store, lambda: registry), 60, wakes)
    await applier.apply([ORDER], NOW)
    [claim] = await store.claim(NOW, 1, NOW + 30, "w")
    return applier, wakes, claim


def ended(claim: Claim) -> Outcome:
    return Outcome(
        attempt=Attempt.of(claim.item, NOW, "completed"),
        finish=Finish(RunStatus.COMPLETED, output=None),
    )


async def test_a_run_that_ends_starts_the_defers_it_recorded_without_reading_it_again() -> None:
    store = ReadCounting()
    applier, _, claim = await started(store)
    step = Outcome(
        attempt=Attempt.of(claim.item, NOW, "step"),
        memos=(DEFER,),
        enqueue=(NewItem(ItemKind.DISCOVERY, "step", NOW),),
    )
    assert await applier.complete(claim, step, NOW)
    [again] = await store.claim(NOW, 1, NOW + 30, "w")
    assert await applier.complete(again, ended(again), NOW)
    assert len(await store.list_runs("app-later", active=True)) == 1
    assert store.state_reads == 0


async def test_a_defer_checkpointed_while_the_call_was_out_is_read_and_started() -> None:
    store = ReadCounting()
    applier, _, claim = await started(store)
    sent = Checkpoint(claim.item.run_id, claim.item.id, claim.lease, (Step(DEFER, None, 0),))
    assert await store.checkpoint(sent, LIMITS, NOW) is Verdict.SAVED
    assert await applier.complete(claim, ended(claim), NOW)
    assert len(await store.list_runs("app-later", active=True)) == 1
    assert store.state_reads == 1
    run = await store.get_run(claim.item.run_id)
    assert run is not None and run.status is RunStatus.COMPLETED


async def test_a_next_step_leased_by_the_completion_wakes_nobody() -> None:
    store = ReadCounting()
    applier, wakes, claim = await started(store)
    woken = wakes.count
    step = Outcome(
        attempt=Attempt.of(claim.item, NOW, "step"),
        memos=(Memo("a", {"data": 1}, "a", "StepRun"),),
        enqueue=(NewItem(ItemKind.DISCOVERY, "step", NOW),),
    )
    done = await applier.complete_call(claim, step, NOW, Next(NOW + 30, "w"))
    assert done.applied and done.next is not None
    assert wakes.count == woken
    # Without ``then`` the same step is queued and the worker woken to claim it.
    nxt = done.next
    again = Outcome(
        attempt=Attempt.of(nxt.item, NOW, "step"),
        memos=(Memo("b", {"data": 2}, "b", "StepRun"),),
        enqueue=(NewItem(ItemKind.DISCOVERY, "step", NOW),),
    )
    assert (await applier.complete_call(nxt, again, NOW)).next is None
    assert wakes.count == woken + 1
