"""The read model on every backend: filtered, keyset-paged runs, counts by status,
per-function statistics over time, and an event with its runs and skips."""

from __future__ import annotations

import pytest

from inlet.errors import InvalidValue
from inlet.model import (
    Attempt,
    Event,
    Finish,
    NewRun,
    Outcome,
    Rate,
    RunFlow,
    RunStatus,
)
from inlet.store import Store
from inlet.store.queries import EventFilter, RunFilter, percentile, summarise

NOW = 1_800_000_000.0
DAY = 86_400.0


def event(n: int, at: float) -> Event:
    internal = f"01EVENT{n:019d}"
    return Event(internal, "app/x", {"n": n}, internal, int(at * 1000), received_at=at)


async def make(store: Store, n: int, fn: str, at: float, flow: RunFlow | None = None) -> bool:
    ev = event(n, at)
    key = f"event:{ev.id}"
    run = NewRun(f"01RUN{n:021d}", fn, (ev.internal_id,), key, at, flow=flow or RunFlow())
    return bool((await store.ingest([ev], [run], at, DAY)).run_ids)


async def end(store: Store, at: float, status: RunStatus, output: object = None) -> str:
    [claim] = await store.claim(at, 1, at + 30, "w")
    run_id = claim.item.run_id
    error = {"name": "Error", "message": f"boom {run_id}"} if status is RunStatus.FAILED else None
    attempt = Attempt(run_id, claim.item.id, "step", 0, at, at, "completed")
    outcome = Outcome(attempt=attempt, finish=Finish(status, output=output, error=error))
    assert await store.complete(claim, outcome, at, DAY)
    return run_id


async def test_runs_are_filtered_by_function_status_time_and_text(store: Store) -> None:
    for n in range(1, 7):
        await make(store, n, "app-a" if n % 2 else "app-b", NOW + n)
    await end(store, NOW + 10, RunStatus.COMPLETED, {"vector": "384 dims"})  # run 1
    await end(store, NOW + 11, RunStatus.FAILED)  # run 2

    def ids(page_runs: tuple[object, ...]) -> list[str]:
        return [r.id[-1] for r in page_runs]  # type: ignore[attr-defined]

    assert ids((await store.runs(RunFilter(function_slug="app-a"))).runs) == ["5", "3", "1"]
    queued = RunFilter(statuses=(RunStatus.QUEUED,))
    assert ids((await store.runs(queued)).runs) == ["6", "5", "4", "3"]
    window = RunFilter(created_after=NOW + 2, created_before=NOW + 4)
    assert ids((await store.runs(window)).runs) == ["3", "2"]
    assert ids((await store.runs(RunFilter(text="384 DIMS"))).runs) == ["1"]
    assert ids((await store.runs(RunFilter(text="boom"))).runs) == ["2"]
    assert ids((await store.runs(RunFilter(text=f"run{4:021d}"))).runs) == ["4"]
    assert (await store.runs(RunFilter(text="100%"))).runs == ()


async def test_keyset_pages_list_every_run_once_and_new_runs_do_not_shift_them(
    store: Store,
) -> None:
    for n in range(1, 8):
        await make(store, n, "app-a", NOW + n)
    first = await store.runs(RunFilter(), limit=3)
    await make(store, 8, "app-a", NOW + 8)
    second = await store.runs(RunFilter(), limit=3, after=first.next)
    third = await store.runs(RunFilter(), limit=3, after=second.next)
    seen = [r.id[-1] for page in (first, second, third) for r in page.runs]
    assert seen == ["7", "6", "5", "4", "3", "2", "1"]
    assert third.next is None


async def test_a_page_size_out_of_range_names_the_value(store: Store) -> None:
    with pytest.raises(InvalidValue, match="limit=0"):
        await store.runs(RunFilter(), limit=0)


async def test_counts_by_status_ignore_the_filters_statuses(store: Store) -> None:
    for n in range(1, 5):
        await make(store, n, "app-a", NOW + n)
    await make(store, 5, "app-b", NOW + 5)
    await end(store, NOW + 10, RunStatus.COMPLETED)
    await end(store, NOW + 11, RunStatus.FAILED)
    where = RunFilter(function_slug="app-a", statuses=(RunStatus.FAILED,))
    assert await store.run_counts(where) == {
        RunStatus.COMPLETED: 1,
        RunStatus.FAILED: 1,
        RunStatus.QUEUED: 2,
    }


async def test_function_stats_give_success_rate_and_durations_per_bucket(store: Store) -> None:
    for n in range(1, 5):
        await make(store, n, "app-a", NOW + n)
    await end(store, NOW + 11, RunStatus.COMPLETED)  # run 1, 10 s
    await end(store, NOW + 22, RunStatus.FAILED)  # run 2, 20 s
    await end(store, NOW + 33, RunStatus.COMPLETED)  # run 3, 30 s
    [stats] = await store.function_stats("app-a", NOW, NOW + 10, width=5.0)
    assert stats.function_slug == "app-a"
    assert stats.total.counts == {RunStatus.COMPLETED: 2, RunStatus.FAILED: 1, RunStatus.QUEUED: 1}
    assert stats.total.success_rate == pytest.approx(2 / 3)
    assert (stats.total.p50, stats.total.p95) == (20.0, 30.0)
    early, late = stats.buckets
    assert (early.start, late.start) == (NOW, NOW + 5)
    assert early.counts == {RunStatus.COMPLETED: 2, RunStatus.FAILED: 1, RunStatus.QUEUED: 1}
    assert late.counts == {} and late.success_rate is None and late.p50 is None


async def test_an_event_comes_with_its_runs_and_its_skips(store: Store) -> None:
    limited = RunFlow(rate_limit=Rate("k", limit=1, period=60.0))
    await make(store, 1, "app-a", NOW, limited)
    assert not await make(store, 2, "app-a", NOW + 1, limited)
    detail = await store.event_detail("01EVENT0000000000000000002")
    assert detail is not None and detail.runs == ()
    assert [s.function_slug for s in detail.skips] == ["app-a"]
    started = await store.event_detail("01EVENT0000000000000000001")
    assert started is not None and [r.id[-1] for r in started.runs] == ["1"]
    assert await store.event_detail("01EVENT9999999999999999999") is None


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 21)]
    assert (percentile(values, 0.5), percentile(values, 0.95)) == (10.0, 19.0)
    assert percentile([], 0.5) is None


def test_statistics_refuse_an_empty_window_by_its_values() -> None:
    with pytest.raises(InvalidValue, match="since=10"):
        summarise([], 10.0, 10.0, 1.0)


async def test_several_run_states_are_read_at_once_in_the_order_asked(store: Store) -> None:
    for n in range(1, 4):
        await make(store, n, "app-a", NOW + n)
    ids = ["01RUN000000000000000000003", "01RUN999999999999999999999", "01RUN000000000000000000001"]
    states = await store.run_states(ids)
    assert [s.run.id[-1] for s in states] == ["3", "1"]
    assert [e.data for e in states[0].events] == [{"n": 3}]


async def test_text_search_reads_the_stored_json_on_every_backend(store: Store) -> None:
    await make(store, 1, "app-a", NOW + 1)
    await end(store, NOW + 10, RunStatus.COMPLETED, {"ok": True, "note": None})
    assert [r.id[-1] for r in (await store.runs(RunFilter(text='"ok":true'))).runs] == ["1"]
    assert (await store.runs(RunFilter(text="None"))).runs == ()


async def test_event_pages_filter_by_name_and_time_and_keyset_through_them(store: Store) -> None:
    named = [
        Event(f"01EVT{n:021d}", f"app/{'a' if n % 2 else 'b'}", {}, f"e{n}", 0, received_at=NOW + n)
        for n in range(9)
    ]
    await store.ingest(named, [], NOW + 9, DAY)

    everything = await store.events(EventFilter(), limit=4)
    assert [e.internal_id for e in everything.events] == [
        named[n].internal_id for n in (8, 7, 6, 5)
    ]
    rest = await store.events(EventFilter(), limit=10, after=everything.next)
    assert [e.internal_id for e in rest.events] == [named[n].internal_id for n in (4, 3, 2, 1, 0)]
    assert rest.next is None

    window = EventFilter(name="app/a", received_after=NOW + 2, received_before=NOW + 7)
    first = await store.events(window, limit=1)
    assert [e.id for e in first.events] == ["e5"]
    second = await store.events(window, limit=5, after=first.next)
    assert [e.id for e in second.events] == ["e3"] and second.next is None
    with pytest.raises(InvalidValue, match="limit=0"):
        await store.events(EventFilter(), limit=0)


async def test_events_are_read_by_id_in_one_call(store: Store) -> None:
    events = [event(n, NOW + n) for n in range(3)]
    await store.ingest(events, [], NOW + 3, DAY)
    wanted = [events[2].internal_id, "01NOSUCHEVENT", events[0].internal_id, events[2].internal_id]
    found = await store.events_by_id(wanted)
    assert found == {e.internal_id: e for e in (events[0], events[2])}
    assert await store.events_by_id([]) == {}
