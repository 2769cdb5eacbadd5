"""The store contract for operating: paused functions skip their events (and the skips
can be found again to replay), runs made with memos (a rerun from a step), and bulk
operations whose progress is stored and never overwritten once they finish."""

from __future__ import annotations

from dataclasses import replace

import pytest

from inlet.errors import StoreError
from inlet.model import Event, NewRun, RunStatus, StoredMemo
from inlet.store import Store
from inlet.store.operations import PAUSED, BulkOp

NOW = 1_800_000_000.0
DAY = 86_400.0


def event(n: int) -> Event:
    internal = f"01EVENT{n:019d}"
    return Event(
        internal_id=internal,
        name="app/x",
        data={"n": n},
        id=internal,
        ts=int(NOW * 1000),
        received_at=NOW,
    )


def new_run(n: int, ev: Event, fn: str = "app-fn", **extra: object) -> NewRun:
    return NewRun(
        id=f"01RUN{n:021d}",
        function_slug=fn,
        event_ids=(ev.internal_id,),
        key=f"event:{ev.id}",
        due_at=NOW,
        **extra,  # type: ignore[arg-type]
    )


async def test_a_paused_function_skips_its_events_and_runs_again_once_resumed(
    store: Store,
) -> None:
    assert await store.set_paused("app-fn", NOW)
    assert not await store.set_paused("app-fn", NOW + 5), "pausing twice changes nothing"
    assert await store.paused_functions() == {"app-fn": NOW}

    ev = event(1)
    other = new_run(2, ev, fn="other-fn")
    result = await store.ingest([ev], [new_run(1, ev), other], NOW + 1, DAY)

    assert result.run_ids == (other.id,), "only the function that is not paused runs"
    skips = await store.skips(ev.internal_id)
    assert [(s.function_slug, s.reason) for s in skips] == [("app-fn", PAUSED)]
    assert await store.skipped_events("app-fn", PAUSED, None, NOW + 10, None, 10) == [
        (ev.internal_id, NOW + 1)
    ]
    assert await store.count_skipped("app-fn", PAUSED, None, NOW + 10) == 1

    assert await store.set_paused("app-fn", None)
    assert not await store.set_paused("app-fn", None)
    assert await store.paused_functions() == {}
    # The skipped event's key was never taken: replaying it makes its run.
    replayed = await store.ingest([], [new_run(3, ev)], NOW + 20, DAY)
    assert replayed.run_ids == ("01RUN" + f"{3:021d}",)


async def test_skipped_events_page_newest_first_within_the_range(store: Store) -> None:
    await store.set_paused("app-fn", NOW)
    for n in range(5):
        ev = event(n)
        await store.ingest([ev], [new_run(n, ev)], NOW + n, DAY)

    # [after, before]: the range takes both ends (a skip at the moment a replay is made
    # is one it replays).
    first = await store.skipped_events("app-fn", PAUSED, NOW + 1, NOW + 3, None, 2)
    assert first == [(event(3).internal_id, NOW + 3), (event(2).internal_id, NOW + 2)]
    cursor = (first[-1][1], first[-1][0])
    rest = await store.skipped_events("app-fn", PAUSED, NOW + 1, NOW + 3, cursor, 2)
    assert rest == [(event(1).internal_id, NOW + 1)]
    assert await store.count_skipped("app-fn", PAUSED, NOW + 1, NOW + 3) == 3
    assert await store.skipped_events("other-fn", PAUSED, None, NOW + 9, None, 9) == []


async def test_a_run_made_with_memos_starts_with_those_steps_done(store: Store) -> None:
    ev = event(1)
    memos = (
        StoredMemo("step-a", {"v": 1}, "a", "Step", 0, NOW - 10),
        StoredMemo("step-b", [1, 2], "b", "Step", 1, NOW - 9),
    )
    run = new_run(1, ev, memos=memos)
    await store.ingest([ev], [run], NOW, DAY)

    state = await store.run_state(run.id)
    assert state is not None
    assert state.run.status is RunStatus.QUEUED
    assert state.run.step_count == 2
    assert state.run.state_size > 0
    assert [(m.step_id, m.value, m.seq) for m in state.memos] == [
        ("step-a", {"v": 1}, 0),
        ("step-b", [1, 2], 1),
    ]


def bulk(op_id: str = "01BULK", **changes: object) -> BulkOp:
    op = BulkOp(
        id=op_id,
        kind="replay",
        function_slug="app-fn",
        statuses=("Failed", "Skipped"),
        created_after=NOW - DAY,
        created_before=NOW,
        name="fix from PR 958",
        state="running",
        total=40,
        created_at=NOW,
        updated_at=NOW,
    )
    return replace(op, **changes)  # type: ignore[arg-type]


async def test_a_bulk_operation_keeps_its_progress_until_it_finishes(store: Store) -> None:
    op = bulk()
    await store.create_bulk(op)
    with pytest.raises(StoreError):
        await store.create_bulk(op)
    assert await store.get_bulk(op.id) == op
    assert await store.get_bulk("nope") is None

    moved = replace(op, done=20, changed=18, cursor="01RUNX", updated_at=NOW + 1)
    assert await store.update_bulk(moved)
    assert await store.get_bulk(op.id) == moved

    cancelled = replace(moved, state="cancelled", updated_at=NOW + 2)
    assert await store.update_bulk(cancelled)
    late = replace(moved, done=40, state="done", updated_at=NOW + 3)
    assert not await store.update_bulk(late), "a finished operation keeps its last word"
    assert await store.get_bulk(op.id) == cancelled


async def test_bulk_operations_list_newest_first(store: Store) -> None:
    await store.create_bulk(bulk("01BULKA", created_at=NOW, created_after=None))
    await store.create_bulk(bulk("01BULKB", created_at=NOW + 1, kind="cancel"))
    listed = await store.list_bulk()
    assert [o.id for o in listed] == ["01BULKB", "01BULKA"]
    assert listed[0].kind == "cancel"
    assert listed[1].created_after is None
    assert [o.id for o in await store.list_bulk(limit=1)] == ["01BULKB"]
