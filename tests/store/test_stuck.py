"""The store contract for stuck runs: a run left with no work and no wait is found, a run
with a sleep, a wait or its next call is not, and reviving gives it a call once."""

from __future__ import annotations

from inlet.model import Event, ItemKind, NewItem, NewRun
from inlet.store import Store
from inlet.store.memory import MemoryStore
from inlet.store.relational import RelationalStore

NOW = 1_800_000_000.0
DAY = 86_400.0


async def started(store: Store, n: int, timers: tuple[NewItem, ...] = ()) -> str:
    internal = f"01EVENT{n:019d}"
    ev = Event(internal, "app/x", {}, internal, int(NOW * 1000), received_at=NOW)
    run = NewRun(f"01RUN{n:021d}", "app-fn", (internal,), f"event:{internal}", NOW, timers=timers)
    await store.ingest([ev], [run], NOW, DAY)
    return run.id


async def lose_work(store: Store, run_id: str) -> None:
    """What a crash or a bug leaves: the run's queue items gone, nothing else changed."""
    if isinstance(store, MemoryStore):
        store._tx.drop_run_items(run_id)
    else:
        assert isinstance(store, RelationalStore)
        await store._write(store._x, "drop_run_items", (run_id,))


async def test_a_run_without_work_is_stuck_and_a_revival_gives_it_one_call(store: Store) -> None:
    finish = NewItem(ItemKind.TIMER, "timeout:finish", NOW + 900, payload={"timeout": "finish"})
    stuck = await started(store, 1)
    busy = await started(store, 2)
    timed = await started(store, 3, timers=(finish,))
    await lose_work(store, stuck)

    found = await store.stuck_runs(NOW + 1)
    assert [r.id for r in found] == [stuck]
    assert await store.stuck_runs(NOW) == [], "a run created at the cutoff is not old enough"
    assert busy not in [r.id for r in found] and timed not in [r.id for r in found]

    assert await store.revive(stuck, NOW + 2)
    assert not await store.revive(stuck, NOW + 3), "no longer stuck: it has its call"
    assert not await store.revive(busy, NOW + 3)
    assert await store.stuck_runs(NOW + 10) == []
    claims = await store.claim(NOW + 2, 10, NOW + 32, "w")
    assert stuck in [c.item.run_id for c in claims]
    history = await store.history(stuck)
    assert [a.outcome for a in history] == ["revived"]
