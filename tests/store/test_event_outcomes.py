"""What the events of a page led to, on every backend, in one read: the runs each event
started, the functions that skipped it, nothing for an event that did neither."""

from __future__ import annotations

from inlet.model import Event, NewRun, SkipSet
from inlet.store import Store

NOW = 1_800_000_000.0
DAY = 86_400.0


def event(n: int) -> Event:
    internal = f"01EVENT{n:019d}"
    return Event(internal, "app/x", {"n": n}, internal, int(NOW * 1000), received_at=NOW)


def run(n: int, fn: str, *events: Event) -> NewRun:
    return NewRun(f"01RUN{n:021d}", fn, tuple(e.internal_id for e in events), f"k{n}", NOW)


async def test_each_event_comes_with_the_runs_it_started_and_its_skips(store: Store) -> None:
    one, two, three = event(1), event(2), event(3)
    await store.ingest(
        [one, two, three],
        [run(1, "app-a", one), run(2, "app-b", one), run(3, "app-a", two)],
        NOW,
        DAY,
        skips=[
            SkipSet("app-b", "the function is paused", (two.internal_id,)),
            SkipSet("app-b", "rate limited; key k", (three.internal_id,)),
            SkipSet("app-a", "its condition is false", (three.internal_id,)),
        ],
    )
    found = await store.event_outcomes(
        [three.internal_id, one.internal_id, two.internal_id, "01EVENT9999999999999999999"]
    )

    assert [r.id[-1] for r in found[one.internal_id].runs] == ["1", "2"]
    assert found[one.internal_id].skips == ()
    assert [(r.id[-1], r.function_slug) for r in found[two.internal_id].runs] == [("3", "app-a")]
    assert [s.reason for s in found[two.internal_id].skips] == ["the function is paused"]
    assert found[three.internal_id].runs == ()
    assert [(s.function_slug, s.reason) for s in found[three.internal_id].skips] == [
        ("app-a", "its condition is false"),
        ("app-b", "rate limited; key k"),
    ]
    unknown = found["01EVENT9999999999999999999"]
    assert (unknown.runs, unknown.skips) == ((), ())


async def test_a_run_of_a_batch_is_listed_under_each_of_its_events(store: Store) -> None:
    one, two = event(1), event(2)
    await store.ingest([one, two], [run(1, "app-a", one, two)], NOW, DAY, skips=[])
    found = await store.event_outcomes([one.internal_id, two.internal_id])
    [first], [second] = found[one.internal_id].runs, found[two.internal_id].runs
    assert first.id == second.id
    assert first.event_ids == (one.internal_id, two.internal_id)


async def test_no_events_asked_is_no_read(store: Store) -> None:
    assert await store.event_outcomes([]) == {}
