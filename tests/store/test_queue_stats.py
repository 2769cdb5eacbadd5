"""The store contract for the queue as ``/metrics`` reads it, per function: items due and
not taken (with the oldest due time), items parked for a concurrency slot, runs that only
wait on timers, and runs queued or running. Read from the database, so every process
sharing it reads the same."""

from __future__ import annotations

from inlet.model import (
    Attempt,
    Event,
    ItemKind,
    NewItem,
    NewRun,
    Outcome,
    Rate,
    RunFlow,
)
from inlet.store import Store
from inlet.store.queries import QueueStats

NOW = 1_800_000_000.0
DAY = 86_400.0
UNGATED = RunFlow()


async def start(store: Store, n: int, fn: str, due: float, flow: RunFlow = UNGATED) -> str:
    internal = f"01EVENT{n:019d}"
    ev = Event(internal, "app/x", {}, internal, int(NOW * 1000), received_at=NOW)
    run = NewRun(f"01RUN{n:021d}", fn, (internal,), f"event:{internal}", due, flow=flow)
    await store.ingest([ev], [run], NOW, DAY)
    return run.id


async def test_an_empty_store_has_no_queue(store: Store) -> None:
    assert await store.queue_stats(NOW) == []


async def test_due_items_are_counted_per_function_with_the_oldest_due_time(
    store: Store,
) -> None:
    await start(store, 1, "app-a", NOW - 30)
    await start(store, 2, "app-a", NOW - 5)
    await start(store, 3, "app-b", NOW + 60)

    assert await store.queue_stats(NOW) == [
        QueueStats("app-a", due=2, oldest_due_at=NOW - 30, queued=2),
        QueueStats("app-b", queued=1, delayed=1),
    ]
    # Once the later run falls due it counts; nothing else changed.
    later = {s.function_slug: s for s in await store.queue_stats(NOW + 60)}
    assert later["app-b"] == QueueStats("app-b", due=1, oldest_due_at=NOW + 60, queued=1)


async def test_a_claimed_item_is_not_due_and_its_run_is_running(store: Store) -> None:
    await start(store, 1, "app-a", NOW - 30)
    await start(store, 2, "app-a", NOW - 5)
    [claim] = await store.claim(NOW, 1, NOW + 30, "w")
    assert claim.item.due_at == NOW - 30

    assert await store.queue_stats(NOW) == [
        QueueStats("app-a", due=1, oldest_due_at=NOW - 5, queued=1, running=1)
    ]


async def test_a_run_that_only_sleeps_is_waiting_and_one_with_a_call_to_make_is_not(
    store: Store,
) -> None:
    sleeper = await start(store, 1, "app-a", NOW)
    await start(store, 2, "app-a", NOW)
    claims = await store.claim(NOW, 2, NOW + 3600, "w")
    for claim in claims:
        if claim.item.run_id == sleeper:
            # The call answered with a sleep: only a timer is left.
            nap = NewItem(ItemKind.TIMER, "nap", NOW + 600, name="nap", payload={"memo": None})
            attempt = Attempt(sleeper, claim.item.id, "step", 0, NOW, NOW, "sleeping")
            assert await store.complete(claim, Outcome(attempt=attempt, enqueue=(nap,)), NOW, DAY)

    # The other run's call is still in flight: running, not waiting, nothing due.
    assert await store.queue_stats(NOW) == [QueueStats("app-a", waiting=1, running=2)]
    # At the end of the sleep the timer is due work, and the run still waits for it.
    assert await store.queue_stats(NOW + 600) == [
        QueueStats("app-a", due=1, oldest_due_at=NOW + 600, waiting=1, running=2)
    ]


async def test_items_parked_for_a_concurrency_slot_are_apart_from_the_due_ones(
    store: Store,
) -> None:
    one = RunFlow(concurrency=(("fn:app-a", 1),))
    await start(store, 1, "app-a", NOW - 2, one)
    await start(store, 2, "app-a", NOW - 1, one)
    claimed = await store.claim(NOW, 10, NOW + 30, "w")
    assert len(claimed) == 1

    [stats] = await store.queue_stats(NOW)
    assert (stats.due, stats.oldest_due_at, stats.parked) == (0, None, 1)
    assert (stats.queued, stats.running) == (1, 1)


async def test_an_item_whose_lease_expired_is_due_again(store: Store) -> None:
    await start(store, 1, "app-a", NOW)
    await store.claim(NOW, 1, NOW + 30, "w")
    assert (await store.queue_stats(NOW + 29))[0].due == 0

    [stats] = await store.queue_stats(NOW + 31)
    assert (stats.due, stats.oldest_due_at) == (1, NOW + 30)


async def test_ended_runs_leave_the_stats(store: Store) -> None:
    from inlet.model import Finish, RunStatus

    run_id = await start(store, 1, "app-a", NOW)
    [claim] = await store.claim(NOW, 1, NOW + 30, "w")
    attempt = Attempt(run_id, claim.item.id, "step", 0, NOW, NOW, "completed")
    done = Outcome(attempt=attempt, finish=Finish(RunStatus.COMPLETED, output=1))
    assert await store.complete(claim, done, NOW, DAY)

    assert await store.queue_stats(NOW) == []


async def test_the_schema_version_is_read_from_the_database(store: Store) -> None:
    version = await store.schema_version()
    if type(store).__name__ == "MemoryStore":
        assert version is None
    else:
        assert isinstance(version, int) and version > 0


async def test_a_run_held_back_by_a_throttle_is_delayed(store: Store) -> None:
    throttle = RunFlow(throttle=Rate("app-a", limit=1, period=10.0, burst=0))
    await start(store, 1, "app-a", NOW, throttle)
    await start(store, 2, "app-a", NOW, throttle)

    [stats] = await store.queue_stats(NOW)
    assert (stats.due, stats.delayed, stats.queued) == (1, 1, 2)
    [later] = await store.queue_stats(NOW + 60)
    assert (later.due, later.delayed) == (2, 0)
