"""The store contract for what ``/metrics`` counts: each committed ``ingest``, ``complete``
and ``claim`` hands its watcher the runs it ended, the events it skipped and the starts
or calls a gate held back, wherever in the transaction they happened (a cancellation
asked for, a singleton replacing a run, a call's outcome cancelling another run), and a
write that changed nothing counts nothing."""

from __future__ import annotations

from dataclasses import replace

from inlet.metrics import CONCURRENCY, THROTTLE, Tally
from inlet.model import (
    Attempt,
    Cancellation,
    Event,
    Finish,
    NewRun,
    Outcome,
    Rate,
    RunFlow,
    RunStatus,
)
from inlet.store import Store
from inlet.store.base import Claim

NOW = 1_800_000_000.0
DAY = 86_400.0
UNGATED = RunFlow()
CANCELLED = {"name": "FunctionCancelled", "message": "asked to"}


def event(n: int, user_id: str | None = None) -> Event:
    internal = f"01EVENT{n:019d}"
    return Event(internal, "app/x", {"n": n}, user_id or internal, int(NOW * 1000), received_at=NOW)


def new_run(ev: Event, n: int, flow: RunFlow = UNGATED, fn: str = "app-fn") -> NewRun:
    return NewRun(f"01RUN{n:021d}", fn, (ev.internal_id,), f"event:{ev.id}", NOW, flow=flow)


async def start(store: Store, n: int, flow: RunFlow = UNGATED, fn: str = "app-fn") -> str:
    ev = event(n)
    run = new_run(ev, n, flow, fn)
    await store.ingest([ev], [run], NOW, DAY)
    return run.id


def watch(store: Store) -> list[Tally]:
    seen: list[Tally] = []
    store.count_with(seen.append)
    return seen


def total(seen: list[Tally]) -> Tally:
    whole = Tally()
    for tally in seen:
        whole.ended += tally.ended
        whole.skipped += tally.skipped
        whole.delayed += tally.delayed
    return whole


def done(claim: Claim, finish: Finish | None = None) -> Outcome:
    attempt = Attempt(claim.item.run_id, claim.item.id, "step", 0, NOW, NOW, "completed")
    return Outcome(attempt=attempt, finish=finish)


async def test_a_finished_run_is_counted_once_and_a_stale_lease_counts_nothing(
    store: Store,
) -> None:
    await start(store, 1)
    [claim] = await store.claim(NOW, 10, NOW + 30, "w")
    seen = watch(store)
    stale = replace(claim, lease="not-mine")
    assert await store.complete(stale, done(stale, Finish(RunStatus.COMPLETED)), NOW, DAY) is False
    assert seen == []

    assert await store.complete(claim, done(claim, Finish(RunStatus.FAILED)), NOW, DAY)
    assert total(seen).ended == [("app-fn", RunStatus.FAILED)]


async def test_a_call_that_returns_after_its_run_was_cancelled_counts_only_the_cancel(
    store: Store,
) -> None:
    run_id = await start(store, 1)
    [claim] = await store.claim(NOW, 10, NOW + 30, "w")
    seen = watch(store)
    result = await store.ingest([], [], NOW, DAY, cancels=[Cancellation(run_id, CANCELLED)])
    assert result.cancelled == (run_id,)
    await store.ingest([], [], NOW, DAY, cancels=[Cancellation(run_id, CANCELLED)])

    # The cancel took the call's item: its late answer changes nothing.
    late = done(claim, Finish(RunStatus.COMPLETED))
    assert await store.complete(claim, late, NOW, DAY) is False
    assert total(seen).ended == [("app-fn", RunStatus.CANCELLED)]


async def test_a_run_a_singleton_replaces_is_counted_cancelled(store: Store) -> None:
    flow = RunFlow(singleton="k", singleton_mode="cancel")
    await start(store, 1, flow)
    seen = watch(store)
    await start(store, 2, flow)
    assert total(seen).ended == [("app-fn", RunStatus.CANCELLED)]


async def test_a_cancellation_in_a_calls_outcome_is_counted(store: Store) -> None:
    other = await start(store, 1, fn="app-other")
    await start(store, 2)
    claims = await store.claim(NOW, 10, NOW + 30, "w")
    mine = next(c for c in claims if c.item.run_id != other)
    seen = watch(store)
    outcome = replace(done(mine), cancels=(Cancellation(other, CANCELLED),))
    assert await store.complete(mine, outcome, NOW, DAY)
    assert total(seen).ended == [("app-other", RunStatus.CANCELLED)]


async def test_skips_are_counted_with_their_reason_and_a_retried_send_is_not(
    store: Store,
) -> None:
    seen = watch(store)
    limited = RunFlow(rate_limit=Rate("k", 1, 60.0))
    for n in (1, 2):
        ev = event(n)
        await store.ingest([ev], [new_run(ev, n, limited)], NOW, DAY)
    # The same event id again (a new internal id): a duplicate.
    first, again = event(3, "dup"), event(4, "dup")
    await store.ingest([first], [new_run(first, 3, fn="app-dup")], NOW, DAY)
    await store.ingest([again], [new_run(again, 4, fn="app-dup")], NOW, DAY)
    # A retried send of a stored event is not news: no second skip.
    await store.ingest([again], [new_run(again, 5, fn="app-dup")], NOW, DAY)

    skipped = total(seen).skipped
    assert [(fn, events) for fn, _, events in skipped] == [("app-fn", 1), ("app-dup", 1)]
    assert skipped[0][1].startswith("rate limited")
    assert skipped[1][1].startswith("an event with the same id")


async def test_a_throttle_and_a_full_concurrency_limit_are_counted_as_delays(
    store: Store,
) -> None:
    seen = watch(store)
    throttled = RunFlow(throttle=Rate("k", 1, 60.0))
    for n in (1, 2, 3):
        await start(store, n, throttled, fn="app-throttled")
    one = RunFlow(concurrency=(("fn:app-one", 1),))
    for n in (4, 5, 6):
        await start(store, n, one, fn="app-one")
    claims = await store.claim(NOW, 10, NOW + 30, "w")
    # The throttled run due now, and one of app-one's (made in the same instant: any).
    assert len(claims) == 2, claims

    # The first throttled run starts now; the next two wait. Two of the three calls of
    # app-one are parked behind its limit of one.
    assert sorted(total(seen).delayed) == [
        ("app-one", CONCURRENCY),
        ("app-one", CONCURRENCY),
        ("app-throttled", THROTTLE),
        ("app-throttled", THROTTLE),
    ]
