"""An ingest's refusals (the functions whose trigger expression an event failed) are kept
once per function and reason on the SQL stores, naming their events: every reader answers
as if each refusal were a row of its own, beside a flow-control gate's refusals, and
retention takes the events it deletes out of them. On every store."""

from __future__ import annotations

from dataclasses import replace

from inlet.model import Event, NewRun, SkipRecord, SkipSet
from inlet.store import Store
from inlet.store.operations import PAUSED

from .test_contract import DAY, NOW, event

LATER = NOW + 10 * DAY
FALSE_A = "the trigger's expression was not true: event.data.fn == 'a'"
FALSE_B = "the trigger's expression was not true: event.data.fn == 'b'"
OTHER = "the trigger's expression was not true: event.data.kind == 'other'"


def events(first: int, count: int, at: float = NOW) -> list[Event]:
    return [replace(event(n), received_at=at) for n in range(first, first + count)]


def refusals(evs: list[Event], slug: str, reason: str) -> list[SkipSet]:
    return [SkipSet(slug, reason, tuple(ev.internal_id for ev in evs))]


async def test_each_event_reads_its_own_refusals_and_a_gate_s_beside_them(store: Store) -> None:
    await store.set_paused("paused-fn", NOW - 1)
    batch = events(1, 4)
    # fn-a refuses all four; fn-b the first two for one reason and the last two for
    # another (a function with two triggers); a paused function skips the third.
    skips = refusals(batch, "fn-a", FALSE_A)
    skips += refusals(batch[:2], "fn-b", FALSE_B) + refusals(batch[2:], "fn-b", OTHER)
    gated = NewRun("01RUN" + "9" * 21, "paused-fn", (batch[2].internal_id,), "k", NOW)
    await store.ingest(batch, [gated], NOW, DAY, skips=skips)

    def said(found: list[SkipRecord]) -> list[tuple[str, str]]:
        return sorted((s.function_slug, s.reason) for s in found)

    assert said(await store.skips(batch[0].internal_id)) == [("fn-a", FALSE_A), ("fn-b", FALSE_B)]
    assert said(await store.skips(batch[2].internal_id)) == [
        ("fn-a", FALSE_A),
        ("fn-b", OTHER),
        ("paused-fn", PAUSED),
    ]
    outcomes = await store.event_outcomes([ev.internal_id for ev in batch])
    assert {i: said(list(o.skips)) for i, o in outcomes.items()} == {
        batch[0].internal_id: [("fn-a", FALSE_A), ("fn-b", FALSE_B)],
        batch[1].internal_id: [("fn-a", FALSE_A), ("fn-b", FALSE_B)],
        batch[2].internal_id: [("fn-a", FALSE_A), ("fn-b", OTHER), ("paused-fn", PAUSED)],
        batch[3].internal_id: [("fn-a", FALSE_A), ("fn-b", OTHER)],
    }


async def test_a_function_s_refused_events_page_newest_first_across_ingests(store: Store) -> None:
    first, second = events(1, 3), events(4, 3, NOW + 5)
    await store.ingest(first, [], NOW, DAY, skips=refusals(first, "fn-a", FALSE_A))
    await store.ingest(second, [], NOW + 5, DAY, skips=refusals(second, "fn-a", FALSE_A))
    await store.ingest(events(7, 1, NOW + 6), [], NOW + 6, DAY)  # refused by no one

    newest = [(ev.internal_id, NOW + 5) for ev in reversed(second)]
    oldest = [(ev.internal_id, NOW) for ev in reversed(first)]
    page = await store.skipped_events("fn-a", FALSE_A, None, NOW + 10, None, 4)
    assert page == newest + oldest[:1]
    cursor = (page[-1][1], page[-1][0])  # (at, event id) of the last one read
    rest = await store.skipped_events("fn-a", FALSE_A, None, NOW + 10, cursor, 4)
    assert rest == oldest[1:]
    assert await store.count_skipped("fn-a", FALSE_A, None, NOW + 10) == 6
    # [after, before] bounds the refusals' time, each end included.
    assert await store.skipped_events("fn-a", FALSE_A, NOW + 1, NOW + 5, None, 9) == newest
    assert await store.count_skipped("fn-a", FALSE_A, NOW + 1, NOW + 5) == 3
    assert await store.count_skipped("fn-a", FALSE_B, None, NOW + 10) == 0

    tally = await store.skip_tally(NOW)
    assert [(t.function_slug, t.event_name, t.reason, t.count) for t in tally] == [
        ("fn-a", "app/test", FALSE_A, 6)
    ]
    assert (tally[0].first_at, tally[0].last_at) == (NOW, NOW + 5)
    assert [t.count for t in await store.skip_tally(NOW + 1)] == [3]


async def test_retention_takes_deleted_events_out_of_their_refusals(store: Store) -> None:
    batch = events(1, 4)
    await store.ingest(batch, [], NOW, DAY, skips=refusals(batch, "fn-a", FALSE_A))
    # A run keeps the last event (and so its refusal) whatever the cutoff.
    kept = events(5, 1)
    run = NewRun("01RUN" + "5" * 21, "fn-b", (kept[0].internal_id,), "k", NOW)
    await store.ingest(kept, [run], NOW, DAY, skips=refusals(kept, "fn-a", FALSE_A))

    first = await store.purge(NOW + 100, 2, LATER)
    assert first.events == 2
    left = [ev.internal_id for ev in batch if await store.get_event(ev.internal_id)]
    assert len(left) == 2
    found = await store.skipped_events("fn-a", FALSE_A, None, LATER, None, 9)
    assert sorted(e for e, _ in found) == sorted([*left, kept[0].internal_id])
    for gone in {ev.internal_id for ev in batch} - set(left):
        assert await store.skips(gone) == []

    while (await store.purge(NOW + 100, 2, LATER)).events:
        pass
    assert [e for e, _ in await store.skipped_events("fn-a", FALSE_A, None, LATER, None, 9)] == [
        kept[0].internal_id
    ]
    assert await store.count_skipped("fn-a", FALSE_A, None, LATER) == 1
    assert [s.reason for s in await store.skips(kept[0].internal_id)] == [FALSE_A]
