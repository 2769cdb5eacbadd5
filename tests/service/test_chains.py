"""A run's steps follow one another without a dispatcher round: the ingest that creates a run
leases its first call, each completion leases the run's next step, and the executor calls
them at once, in the same slot. The clock does not
move in these tests, so nothing here waits for a poll: what starts, starts because it was
handed on or woken."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from inlet.config import Settings
from inlet.model import Event, NewRun
from inlet.store import IngestResult
from inlet.store.base import Claim
from inlet.store.memory import MemoryStore
from inlet.testing import Context, FakeClock, FakeSDK, InletTest


class ClaimCounting(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.claimed: list[Claim] = []
        self.claimed_at: dict[str, float] = {}
        """When each claimed item was claimed (the claim's ``now``)."""
        self.leased_by_ingest: list[Claim] = []

    async def ingest(
        self, events: Sequence[Event], runs: Sequence[NewRun], *args: Any, **kwargs: Any
    ) -> IngestResult:
        result = await super().ingest(events, runs, *args, **kwargs)
        self.leased_by_ingest.extend(result.claims)
        return result

    async def claim(
        self, now: float, limit: int, lease_until: float, owner: str, **kwargs: Any
    ) -> list[Claim]:
        claims = await super().claim(now, limit, lease_until, owner, **kwargs)
        self.claimed.extend(claims)
        self.claimed_at.update((c.item.id, now) for c in claims)
        return claims


class Chains:
    """Three-step functions; ``peak`` is the most step bodies seen running at once."""

    def __init__(self, clock: FakeClock) -> None:
        self.sdk = FakeSDK("chains", clock=clock)
        self.running = 0
        self.peak = 0

        async def body() -> int:
            self.running += 1
            self.peak = max(self.peak, self.running)
            for _ in range(5):  # let other calls run meanwhile
                await asyncio.sleep(0)
            self.running -= 1
            return 1

        async def three(ctx: Context) -> int:
            total = 0
            for name in ("a", "b", "c"):
                total += await ctx.step.run(name, body)
            return total

        self.sdk.function("three", event="chains/three")(three)
        self.sdk.function("limited", event="chains/limited", concurrency=[{"limit": 1}])(three)


async def completed(inlet: InletTest, event_ids: list[str]) -> list[dict[str, Any]]:
    runs = [run for event_id in event_ids for run in await inlet.runs(event_id)]
    assert [run["status"] for run in runs] == ["Completed"] * len(event_ids), runs
    return runs


async def test_a_run_of_three_steps_is_started_by_its_ingest_and_never_claimed() -> None:
    clock = FakeClock(1_800_000_000.0)
    app, store = Chains(clock), ClaimCounting()
    async with InletTest(app.sdk, clock=clock, store=store) as inlet:
        [event_id] = await inlet.send({"name": "chains/three", "data": {}})
        [run] = await completed(inlet, [event_id])
        assert run["output"] == 3
    assert [(c.item.kind.value, c.item.step_id) for c in store.leased_by_ingest] == [
        ("discovery", "step")
    ]
    assert store.claimed == []


async def test_a_run_with_a_concurrency_limit_is_claimed_through_the_gate() -> None:
    clock = FakeClock(1_800_000_000.0)
    app, store = Chains(clock), ClaimCounting()
    async with InletTest(app.sdk, clock=clock, store=store) as inlet:
        [event_id] = await inlet.send({"name": "chains/limited", "data": {}})
        await completed(inlet, [event_id])
    assert store.leased_by_ingest == []
    assert [c.item.step_id for c in store.claimed][:1] == ["step"]


async def test_an_ingest_leases_no_more_first_calls_than_the_worker_has_slots() -> None:
    clock = FakeClock(1_800_000_000.0)
    app, store = Chains(clock), ClaimCounting()
    settings = Settings(database_url="memory://", discovery=False, worker_concurrency=2)
    async with InletTest(app.sdk, clock=clock, store=store, settings=settings) as inlet:
        ids = await inlet.send(*({"name": "chains/three", "data": {"i": i}} for i in range(5)))
        await completed(inlet, ids)
    assert len(store.leased_by_ingest) == 2
    assert app.peak <= 2
    started = {c.item.run_id for c in [*store.leased_by_ingest, *store.claimed]}
    assert len(started) == 5


async def test_a_run_parked_behind_a_concurrency_limit_starts_when_the_slot_frees() -> None:
    clock = FakeClock(1_800_000_000.0)
    app = Chains(clock)
    async with InletTest(app.sdk, clock=clock) as inlet:
        ids = await inlet.send(*({"name": "chains/limited", "data": {"i": i}} for i in range(3)))
        await completed(inlet, ids)
    assert app.peak == 1


async def test_chains_handed_on_never_run_more_calls_than_worker_concurrency() -> None:
    clock = FakeClock(1_800_000_000.0)
    app = Chains(clock)
    settings = Settings(database_url="memory://", discovery=False, worker_concurrency=2)
    async with InletTest(app.sdk, clock=clock, settings=settings) as inlet:
        ids = await inlet.send(*({"name": "chains/three", "data": {"i": i}} for i in range(6)))
        await completed(inlet, ids)
    assert app.peak == 2


async def test_behind_a_backlog_of_newer_runs_a_started_run_hands_its_steps_on() -> None:
    clock = FakeClock(1_800_000_000.0)
    app, store = Chains(clock), ClaimCounting()
    settings = Settings(database_url="memory://", discovery=False, worker_concurrency=2)
    async with InletTest(app.sdk, clock=clock, store=store, settings=settings) as inlet:
        first = await inlet.send(*({"name": "chains/three", "data": {"i": i}} for i in range(2)))
        clock.advance(0.001)  # the backlog's runs are newer than the two under way
        backlog = await inlet.send(
            *({"name": "chains/three", "data": {"i": i}} for i in range(2, 8))
        )
        await completed(inlet, [*first, *backlog])
    # Every run's steps after its first call rank at its creation, before the newer runs'
    # first calls: each completion leases the next one, and no claim takes a later step.
    claims_per_run: dict[str, int] = {}
    for claim in [*store.leased_by_ingest, *store.claimed]:
        claims_per_run[claim.item.run_id] = claims_per_run.get(claim.item.run_id, 0) + 1
    assert len(claims_per_run) == 8
    assert set(claims_per_run.values()) == {1}
    assert app.peak <= 2
