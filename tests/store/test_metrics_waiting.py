"""The store contract for the wait counts of ``/metrics``: per function, the steps that
sleep, wait for an event or wait for an invoked run, read from the database. A wait's
own timeout timer, a run's timeouts and its ``cancelOn`` listeners are not waits, and a
wait that resolved or a run that ended counts no more."""

from __future__ import annotations

from inlet.model import (
    Attempt,
    Cancellation,
    Event,
    ItemKind,
    Listener,
    ListenerKind,
    NewItem,
    NewRun,
    Outcome,
    Resume,
)
from inlet.store import Store
from inlet.store.waiting import WaitCount

NOW = 1_800_000_000.0
DAY = 86_400.0
LATER = NOW + 3600
RUN_TIMEOUT = NewItem(ItemKind.TIMER, "timeout:finish", NOW + DAY, payload={"timeout": "finish"})


async def start(store: Store, n: int, fn: str) -> str:
    internal = f"01EVENT{n:019d}"
    ev = Event(internal, "app/x", {}, internal, int(NOW * 1000), received_at=NOW)
    stop = Listener(f"cancel-{n}", f"01RUN{n:021d}", ListenerKind.CANCEL, "app/stop", NOW + DAY)
    run = NewRun(
        f"01RUN{n:021d}",
        fn,
        (internal,),
        f"event:{internal}",
        NOW,
        listeners=(stop,),
        timers=(RUN_TIMEOUT,),
    )
    await store.ingest([ev], [run], NOW, DAY)
    return run.id


async def wait(store: Store, run_id: str, kind: str) -> None:
    """The run's call answers with a sleep, a wait for an event or an invoke."""
    [claim] = [c for c in await store.claim(NOW, 100, NOW + 30, "w") if c.item.run_id == run_id]
    attempt = Attempt(run_id, claim.item.id, "step", 0, NOW, NOW, "waiting")
    timer = NewItem(ItemKind.TIMER, kind, LATER, name=kind, payload={"memo": None})
    listeners: tuple[Listener, ...] = ()
    if kind != "sleep":
        listener_kind = ListenerKind.WAIT if kind == "event" else ListenerKind.INVOKE
        listeners = (Listener(f"{run_id}:{kind}", run_id, listener_kind, "app/ok", LATER, kind),)
    outcome = Outcome(attempt, enqueue=(timer,), listeners=listeners)
    assert await store.complete(claim, outcome, NOW, DAY)


async def test_an_empty_store_has_no_waits(store: Store) -> None:
    assert await store.wait_counts() == []


async def test_each_wait_is_counted_once_under_its_function_and_kind(store: Store) -> None:
    kinds = [("app-a", "sleep"), ("app-a", "sleep"), ("app-a", "event"), ("app-b", "invoke")]
    for n, (fn, kind) in enumerate(kinds):
        await wait(store, await start(store, n, fn), kind)
    await start(store, 10, "app-c")  # queued, with a run timeout and a cancelOn: no wait

    assert await store.wait_counts() == [
        WaitCount("app-a", "event", 1),
        WaitCount("app-a", "sleep", 2),
        WaitCount("app-b", "invoke", 1),
    ]


async def test_a_resolved_wait_and_an_ended_run_count_no_more(store: Store) -> None:
    waiting = await start(store, 1, "app-a")
    await wait(store, waiting, "event")
    sleeping = await start(store, 2, "app-a")
    await wait(store, sleeping, "sleep")
    assert len(await store.wait_counts()) == 2

    await store.ingest([], [], NOW, DAY, resumes=[Resume(f"{waiting}:event", waiting, "event", {})])
    error = {"name": "FunctionCancelled", "message": "stop"}
    await store.ingest([], [], NOW, DAY, cancels=[Cancellation(sleeping, error)])
    assert await store.wait_counts() == []
