"""The store contract for what a run waits for (its sleeps, waits and timeouts with their
deadlines) and for counting a page of runs' calls in one read."""

from __future__ import annotations

from inlet.model import (
    Attempt,
    Event,
    ItemKind,
    Listener,
    ListenerKind,
    NewItem,
    NewRun,
    Outcome,
)
from inlet.store import Store

NOW = 1_800_000_000.0
DAY = 86_400.0


async def started(store: Store, n: int, timers: tuple[NewItem, ...] = ()) -> str:
    internal = f"01EVENT{n:019d}"
    ev = Event(internal, "app/x", {}, internal, int(NOW * 1000), received_at=NOW)
    run = NewRun(f"01RUN{n:021d}", "app-fn", (internal,), f"event:{internal}", NOW, timers=timers)
    await store.ingest([ev], [run], NOW, DAY)
    return run.id


async def test_a_run_shows_its_sleep_its_wait_and_its_timeout_soonest_first(store: Store) -> None:
    finish = NewItem(
        ItemKind.TIMER,
        "timeout:finish",
        NOW + 900,
        name="timeouts.finish",
        payload={"timeout": "finish", "seconds": 900},
    )
    run_id = await started(store, 1, timers=(finish,))
    [claim] = await store.claim(NOW, 1, NOW + 30, "w")
    wait = Listener(
        id=f"{run_id}:wait",
        run_id=run_id,
        kind=ListenerKind.WAIT,
        event="app/approved",
        expires_at=NOW + 600,
        step_id="approve",
        expression="async.data.id == '7'",
    )
    outcome = Outcome(
        attempt=Attempt(run_id, claim.item.id, "step", 0, NOW, NOW, "waiting"),
        enqueue=(
            NewItem(ItemKind.TIMER, "nap", NOW + 60, name="nap", payload={"memo": None}),
            NewItem(ItemKind.TIMER, "approve", NOW + 600, name="approve", payload={"memo": None}),
        ),
        listeners=(wait,),
    )
    assert await store.complete(claim, outcome, NOW, DAY)

    waits = await store.run_waits(run_id)
    assert [(w.kind, w.step_id, w.until) for w in waits] == [
        ("sleep", "nap", NOW + 60),
        ("wait", "approve", NOW + 600),
        ("timeout", "timeout:finish", NOW + 900),
    ]
    assert (waits[1].event, waits[1].expression, waits[1].name) == (
        "app/approved",
        "async.data.id == '7'",
        "approve",
    )
    assert await store.run_waits("01NOSUCHRUN") == []


async def test_attempts_are_counted_for_a_page_of_runs_in_one_read(store: Store) -> None:
    first = await started(store, 1)
    second = await started(store, 2)
    for claim in await store.claim(NOW, 2, NOW + 30, "w"):
        attempt = Attempt(claim.item.run_id, claim.item.id, "step", 0, NOW, NOW, "error")
        assert await store.complete(claim, Outcome(attempt=attempt, retry_at=NOW + 1), NOW, DAY)
    [again] = [c for c in await store.claim(NOW + 1, 2, NOW + 31, "w") if c.item.run_id == first]
    attempt = Attempt(first, again.item.id, "step", 1, NOW + 1, NOW + 1, "error")
    assert await store.complete(again, Outcome(attempt=attempt, retry_at=NOW + 2), NOW + 1, DAY)

    counts = await store.attempt_counts([first, second, "01NOSUCHRUN"])
    assert counts == {first: 2, second: 1}
    assert await store.attempt_counts([]) == {}
