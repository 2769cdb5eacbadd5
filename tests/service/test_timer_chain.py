"""A sleep's end hands its run's next call to the executor without a claim: the fired
timer's completion leases it, in a slot reserved while the completion is out, and only
while a slot is free (a timer holds none; the call it leases does)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from inlet.config import Settings
from inlet.model import ItemKind, Outcome, StoredMemo
from inlet.store.base import CallEnd, Claim, Completed
from inlet.testing import Context, FakeClock, FakeSDK, InletTest

from .test_chains import ClaimCounting, completed

T0 = 1_800_000_000.0


class Yielding(ClaimCounting):
    """Completes as an SQL store does, off the event loop: other tasks run meanwhile."""

    async def complete_call(
        self, claim: Claim, outcome: Outcome, now: float, key_ttl: float, end: CallEnd
    ) -> Completed:
        for _ in range(3):
            await asyncio.sleep(0)
        return await super().complete_call(claim, outcome, now, key_ttl, end)


class Nappers:
    """``nap``: sleep 10 s, then a step; ``peak`` is the most step bodies seen at once."""

    def __init__(self, clock: FakeClock) -> None:
        self.sdk = FakeSDK("nappers", clock=clock)
        self.running = 0
        self.peak = 0

        async def body() -> int:
            self.running += 1
            self.peak = max(self.peak, self.running)
            for _ in range(5):  # let other calls run meanwhile
                await asyncio.sleep(0)
            self.running -= 1
            return 1

        async def nap(ctx: Context) -> int:
            await ctx.step.sleep("nap", 10)
            return int(await ctx.step.run("after", body))

        self.sdk.function("nap", event="nappers/nap")(nap)


async def test_the_call_after_a_sleep_is_handed_on_by_the_timer_without_a_claim() -> None:
    clock = FakeClock(T0)
    app, store = Nappers(clock), ClaimCounting()
    async with InletTest(app.sdk, clock=clock, store=store) as inlet:
        [event_id] = await inlet.send({"name": "nappers/nap", "data": {}})
        await inlet.advance(10)
        [run] = await completed(inlet, [event_id])
        assert run["output"] == 1
    # Only its timer: the first call was leased by the event's ingest, and the call after
    # the sleep was never claimed.
    assert [c.item.kind for c in store.claimed] == [ItemKind.TIMER]


async def test_timers_firing_at_once_lease_no_more_calls_than_free_slots() -> None:
    clock = FakeClock(T0)
    app, store = Nappers(clock), Yielding()
    settings = Settings(database_url="memory://", discovery=False, worker_concurrency=2)
    async with InletTest(app.sdk, clock=clock, store=store, settings=settings) as inlet:
        ids = await inlet.send(*({"name": "nappers/nap", "data": {"i": i}} for i in range(6)))
        await inlet.advance(10)  # six timers fire in one claim, with two slots free
        await completed(inlet, ids)
    assert app.peak <= 2
    # The calls after the sleep that a claim took: the others were handed on. The first
    # timers to complete reserve the two slots; a later timer's call queued before an
    # earlier one's completion ranks first, and is left for a claim too.
    claimed = [c for c in store.claimed if c.state is not None and woken(c.state.memos)]
    assert 4 <= len(claimed) <= 5


def woken(memos: Sequence[StoredMemo]) -> bool:
    """The run has slept and not yet run its step after the sleep."""
    names = {memo.name for memo in memos}
    return "nap" in names and "after" not in names


class EarlyClock(FakeClock):
    """Ends a sleep up to a millisecond early, as an event loop may (uvloop's timers have a
    millisecond's resolution)."""

    async def sleep(self, seconds: float) -> None:
        await super().sleep(seconds - 0.001 if seconds > 0.001 else seconds)


@pytest.mark.parametrize("clock_type", [FakeClock, EarlyClock])
async def test_a_timer_due_just_after_a_claim_is_leased_by_it_and_fires_at_its_own_time(
    clock_type: type[FakeClock],
) -> None:
    clock = clock_type(T0)
    app, store = Nappers(clock), ClaimCounting()
    async with InletTest(app.sdk, clock=clock, store=store) as inlet:
        [first] = await inlet.send({"name": "nappers/nap", "data": {"i": 0}})
        await inlet.advance(0.03)
        [second] = await inlet.send({"name": "nappers/nap", "data": {"i": 1}})
        await inlet.advance(9.99)  # the first sleep ends: the second's is 30 ms away
        [run] = await inlet.runs(second)
        assert run["status"] == "Running"  # leased, waiting for its time
        await inlet.advance(0.04)
        runs = await completed(inlet, [first, second])
        fires = [
            row
            for run in runs
            for row in await inlet.history(run["run_id"])
            if row["outcome"] == "timer"
        ]
    timers = [c for c in store.claimed if c.item.kind is ItemKind.TIMER]
    assert len(timers) == 2 and {store.claimed_at[c.item.id] for c in timers} == {T0 + 10}
    assert len(fires) == 2 and all(row["started_at"] == row["due_at"] for row in fires), fires
