"""The store contract for the reads behind the stall alerts: runs with no sign of progress
since a time (a sleep, a wait or a call in flight is progress still ahead), the events
skipped since a time counted per function, name and reason, and since when each app has
been failing to sync."""

from __future__ import annotations

from inlet.model import (
    App,
    Attempt,
    Event,
    Finish,
    ItemKind,
    Listener,
    ListenerKind,
    NewItem,
    NewRun,
    Outcome,
    RunStatus,
    SkipSet,
)
from inlet.store import Store
from inlet.store.base import Claim

NOW = 1_800_000_000.0
DAY = 86_400.0
FINISH = NewItem(ItemKind.TIMER, "timeout:finish", NOW + DAY, payload={"timeout": "finish"})


def event(n: int, name: str = "app/x", at: float = NOW) -> Event:
    internal = f"01EVENT{n:019d}"
    return Event(internal, name, {}, internal, int(at * 1000), received_at=at)


async def started(store: Store, n: int) -> str:
    ev = event(n)
    run = NewRun(
        f"01RUN{n:021d}", "app-fn", (ev.internal_id,), f"event:{ev.internal_id}", NOW, (), (FINISH,)
    )
    await store.ingest([ev], [run], NOW, DAY)
    return run.id


async def claim_of(store: Store, run_id: str, at: float, lease: float = 30.0) -> Claim:
    claims = await store.claim(at, 100, at + lease, "w")
    mine = [c for c in claims if c.item.run_id == run_id]
    assert len(mine) == 1, claims
    return mine[0]


def attempt(claim: Claim, at: float, outcome: str = "planned") -> Attempt:
    return Attempt(claim.item.run_id, claim.item.id, "step", 0, at, at, outcome)


async def quiet(store: Store, before: float) -> dict[str, tuple[float, str]]:
    return {q.run.id: (q.last_at, q.pending) for q in await store.quiet_runs(before)}


async def test_a_run_whose_next_call_waits_is_quiet_from_when_it_was_due(store: Store) -> None:
    run_id = await started(store, 1)
    claim = await claim_of(store, run_id, NOW + 5)
    step = NewItem(ItemKind.STEP, "charge", NOW + 10, name="charge")
    assert await store.complete(claim, Outcome(attempt(claim, NOW + 8), enqueue=(step,)), NOW, DAY)

    assert await quiet(store, NOW + 10) == {}, "due at NOW + 10: not quiet before"
    assert await quiet(store, NOW + 11) == {run_id: (NOW + 10, "due")}


async def test_a_call_in_flight_is_progress_until_its_lease_runs_out(store: Store) -> None:
    run_id = await started(store, 1)
    await claim_of(store, run_id, NOW, lease=30.0)

    assert await quiet(store, NOW + 29) == {}
    assert await quiet(store, NOW + 31) == {run_id: (NOW + 30, "lease_expired")}


async def test_a_sleep_or_a_wait_is_progress_until_its_deadline(store: Store) -> None:
    sleeping = await started(store, 1)
    waiting = await started(store, 2)
    claims = {c.item.run_id: c for c in await store.claim(NOW, 10, NOW + 30, "w")}
    for run_id, until in ((sleeping, NOW + 7200), (waiting, NOW + 600)):
        claim = claims[run_id]
        timer = NewItem(ItemKind.TIMER, "nap", until, name="nap", payload={"memo": None})
        listeners: tuple[Listener, ...] = ()
        if run_id == waiting:
            listeners = (
                Listener(f"{run_id}:w", run_id, ListenerKind.WAIT, "app/ok", until, "nap"),
            )
        outcome = Outcome(attempt(claim, NOW, "waiting"), enqueue=(timer,), listeners=listeners)
        assert await store.complete(claim, outcome, NOW, DAY)

    assert await quiet(store, NOW + 599) == {}
    assert await quiet(store, NOW + 601) == {waiting: (NOW + 600, "due")}
    found = await quiet(store, NOW + 7201)
    assert found[sleeping] == (NOW + 7200, "due")


async def test_a_run_timeout_or_a_cancel_on_is_no_progress_and_an_ended_run_is_never_quiet(
    store: Store,
) -> None:
    lost = await started(store, 1)
    ended = await started(store, 2)
    claims = {c.item.run_id: c for c in await store.claim(NOW, 10, NOW + 30, "w")}
    claim = claims[lost]
    cancel = Listener(f"{lost}:c", lost, ListenerKind.CANCEL, "app/stop", NOW + DAY)
    # The call ends with nothing queued but the run's own timeout and a cancelOn: what a
    # lost item leaves.
    assert await store.complete(claim, Outcome(attempt(claim, NOW), listeners=(cancel,)), NOW, DAY)
    claim = claims[ended]
    done = Outcome(
        attempt(claim, NOW + 1, "completed"), finish=Finish(RunStatus.COMPLETED, output="ok")
    )
    assert await store.complete(claim, done, NOW + 1, DAY)

    assert await quiet(store, NOW + 2) == {lost: (NOW, "")}
    assert [q.run.id for q in await store.quiet_runs(NOW + 2, limit=1)] == [lost]


async def test_skips_are_counted_per_function_event_name_and_reason_since_a_time(
    store: Store,
) -> None:
    paused, false = "paused", "the trigger's expression was not true: event.data.ok"
    early = event(1, "shop/order", NOW - 100)
    await store.ingest(
        [early], [], NOW - 100, DAY, skips=[SkipSet("a-fn", paused, (early.internal_id,))]
    )
    events = [event(n, "shop/order", NOW + n) for n in range(2, 5)]
    for ev in events:
        mine = [SkipSet("a-fn", paused, (ev.internal_id,))]
        if ev is events[0]:
            mine.append(SkipSet("b-fn", false, (ev.internal_id,)))
        await store.ingest([ev], [], ev.received_at, DAY, skips=mine)

    tally = await store.skip_tally(NOW)
    assert [(t.function_slug, t.event_name, t.reason, t.count) for t in tally] == [
        ("a-fn", "shop/order", paused, 3),
        ("b-fn", "shop/order", false, 1),
    ]
    assert (tally[0].first_at, tally[0].last_at) == (NOW + 2, NOW + 4)
    assert [t.count for t in await store.skip_tally(NOW - 100)] == [4, 1]
    assert await store.skip_tally(NOW + 5) == []


async def test_an_apps_sync_error_counts_from_its_first_failure_until_a_success(
    store: Store,
) -> None:
    url = "http://127.0.0.1:3000/api/inngest"
    await store.save_app(App(url=url, app_id="shop", synced_at=NOW), [])
    assert await store.app_errors_since() == {}

    await store.set_app_error(url, "connection refused", NOW + 10)
    await store.set_app_error(url, "HTTP 401: bad signature", NOW + 20)
    assert await store.app_errors_since() == {url: NOW + 10}
    assert [a.error for a in await store.list_apps()] == ["HTTP 401: bad signature"]

    await store.save_app(App(url=url, app_id="shop", synced_at=NOW + 30), [])
    assert await store.app_errors_since() == {}
    await store.set_app_error(url, "connection refused", NOW + 40)
    assert await store.app_errors_since() == {url: NOW + 40}
    await store.set_app_error(url, None, NOW + 50)
    assert await store.app_errors_since() == {}

    never = "http://127.0.0.1:3001/api/inngest"
    await store.set_app_error(never, "connection refused", NOW + 60)
    assert (await store.app_errors_since())[never] == NOW + 60
