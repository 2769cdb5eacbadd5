"""The contract every Store backend keeps (see inlet.store.base)."""

from __future__ import annotations

from pathlib import Path

import pytest

from inlet.errors import DatabaseLocked
from inlet.model import (
    App,
    Attempt,
    Event,
    Finish,
    Function,
    ItemKind,
    Memo,
    NewItem,
    NewRun,
    Outcome,
    RunStatus,
    Trigger,
)
from inlet.store import Store
from inlet.store.sqlite import SQLiteStore

NOW = 1_800_000_000.0
DAY = 86_400.0


def event(n: int, name: str = "app/test") -> Event:
    internal = f"01EVENT{n:019d}"
    return Event(
        internal_id=internal,
        name=name,
        data={"n": n},
        id=internal,
        ts=int(NOW * 1000),
        received_at=NOW,
    )


def new_run(n: int, ev: Event, fn: str = "app-fn") -> NewRun:
    return NewRun(
        id=f"01RUN{n:021d}",
        function_slug=fn,
        event_ids=(ev.internal_id,),
        key=f"event:{ev.id}",
        due_at=NOW,
    )


def attempt(run_id: str, item_id: str = "x", outcome: str = "step") -> Attempt:
    return Attempt(
        run_id=run_id,
        item_id=item_id,
        step_id="step",
        attempt=0,
        started_at=NOW,
        ended_at=NOW + 0.01,
        outcome=outcome,
        status_code=206,
    )


async def one_run(store: Store) -> str:
    ev = event(1)
    result = await store.ingest([ev], [new_run(1, ev)], NOW, DAY)
    return result.run_ids[0]


async def test_ingest_stores_events_and_creates_runs_with_a_due_discovery(store: Store) -> None:
    ev = event(1)
    result = await store.ingest([ev], [new_run(1, ev)], NOW, DAY)
    assert result.new_event_ids == (ev.internal_id,)
    assert len(result.run_ids) == 1
    assert await store.get_event(ev.internal_id) == ev
    run = await store.get_run(result.run_ids[0])
    assert run is not None and run.status is RunStatus.QUEUED
    assert [r.id for r in await store.runs_for_event(ev.internal_id)] == list(result.run_ids)
    claims = await store.claim(NOW, 10, NOW + 30, "w")
    assert [(c.item.kind, c.item.step_id, c.item.attempt) for c in claims] == [
        (ItemKind.DISCOVERY, "step", 0)
    ]
    state = claims[0].state
    assert state is not None and state.run.id == run.id and state.events == (ev,)


async def test_a_repeated_event_and_run_key_create_nothing(store: Store) -> None:
    ev = event(1)
    await store.ingest([ev], [new_run(1, ev)], NOW, DAY)
    again = await store.ingest([ev], [new_run(2, ev)], NOW + 1, DAY)
    assert again.new_event_ids == () and again.run_ids == ()
    assert len(await store.claim(NOW + 1, 10, NOW + 30, "w")) == 1


async def test_a_run_key_can_be_used_again_once_it_expires(store: Store) -> None:
    ev = event(1)
    await store.ingest([ev], [new_run(1, ev)], NOW, DAY)
    later = await store.ingest([], [new_run(2, ev)], NOW + DAY + 1, DAY)
    assert later.run_ids == (new_run(2, ev).id,)


async def test_a_batch_stores_only_its_new_events_and_creates_only_the_runs_whose_key_is_free(
    store: Store,
) -> None:
    # Several events and runs at once (the path where a dialect stores them in one
    # statement per table): an event stored before is not new again, a key held by a run
    # of the last day keeps it, an expired key is taken over.
    old, held, fresh = event(1), event(2), event(3)
    await store.ingest([old], [new_run(1, old)], NOW, DAY)
    await store.ingest([held], [new_run(2, held)], NOW + DAY, DAY)
    later = NOW + DAY + 1
    result = await store.ingest(
        [old, held, fresh],
        [new_run(11, old), new_run(12, held), new_run(13, fresh)],
        later,
        DAY,
    )
    assert result.new_event_ids == (fresh.internal_id,)
    assert result.run_ids == (new_run(11, old).id, new_run(13, fresh).id)
    due = await store.claim(later, 10, later + 30, "w")
    assert sorted(c.item.run_id for c in due) == [
        new_run(n, ev).id for n, ev in ((1, old), (2, held), (11, old), (13, fresh))
    ]


async def test_a_claimed_item_is_not_claimed_again_until_its_lease_expires(store: Store) -> None:
    await one_run(store)
    first = await store.claim(NOW, 10, NOW + 30, "a")
    assert len(first) == 1
    assert await store.claim(NOW + 29, 10, NOW + 59, "b") == []
    assert await store.next_due() == NOW + 30
    taken_over = await store.claim(NOW + 31, 10, NOW + 61, "b")
    assert [c.item.id for c in taken_over] == [first[0].item.id]
    assert taken_over[0].lease != first[0].lease


async def test_items_are_claimed_earliest_first_and_up_to_the_limit(store: Store) -> None:
    events = [event(i) for i in range(5)]
    runs = [
        NewRun(
            id=f"01RUN{i:021d}",
            function_slug="app-fn",
            event_ids=(e.internal_id,),
            key=f"k{i}",
            due_at=NOW + 5 - i,
        )
        for i, e in enumerate(events)
    ]
    await store.ingest(events, runs, NOW, DAY)
    claims = await store.claim(NOW + 10, 3, NOW + 40, "w")
    assert [c.item.due_at for c in claims] != []
    assert [c.item.run_id for c in claims] == [runs[4].id, runs[3].id, runs[2].id]
    assert await store.claim(NOW + 2, 10, NOW + 40, "w") == []


async def test_complete_with_a_lost_lease_changes_nothing(store: Store) -> None:
    run_id = await one_run(store)
    stale = (await store.claim(NOW, 1, NOW + 30, "a"))[0]
    await store.claim(NOW + 31, 1, NOW + 61, "b")
    outcome = Outcome(attempt=attempt(run_id), memos=(Memo("s1", {"data": 1}, "s1", "StepRun"),))
    assert await store.complete(stale, outcome, NOW + 32, DAY) is False
    state = await store.run_state(run_id)
    assert state is not None and state.memos == () and await store.history(run_id) == []


async def test_a_step_output_is_recorded_once_in_completion_order(store: Store) -> None:
    run_id = await one_run(store)
    for i, step in enumerate(["a", "b", "a"]):
        claim = (await store.claim(NOW + i, 1, NOW + i + 30, "w"))[0]
        outcome = Outcome(
            attempt=attempt(run_id, claim.item.id),
            memos=(Memo(step, {"data": f"{step}{i}"}, step, "StepRun"),),
            enqueue=(NewItem(ItemKind.DISCOVERY, "step", NOW + i),),
            state_bytes=10,
        )
        assert await store.complete(claim, outcome, NOW + i, DAY)
    state = await store.run_state(run_id)
    assert state is not None
    assert [(m.step_id, m.value) for m in state.memos] == [
        ("a", {"data": "a0"}),
        ("b", {"data": "b1"}),
    ]
    assert state.run.status is RunStatus.RUNNING and state.run.step_count == 2
    assert state.run.state_size == 20
    assert len(await store.history(run_id)) == 3


async def test_a_retry_calls_the_same_item_again_later_with_the_next_attempt(store: Store) -> None:
    run_id = await one_run(store)
    claim = (await store.claim(NOW, 1, NOW + 30, "w"))[0]
    outcome = Outcome(attempt=attempt(run_id, claim.item.id, "retry"), retry_at=NOW + 15)
    assert await store.complete(claim, outcome, NOW, DAY)
    assert await store.claim(NOW + 14, 1, NOW + 44, "w") == []
    again = (await store.claim(NOW + 15, 1, NOW + 45, "w"))[0]
    assert again.item.id == claim.item.id and again.item.attempt == 1


async def test_finishing_a_run_drops_its_pending_items_and_ingests_system_events(
    store: Store,
) -> None:
    run_id = await one_run(store)
    claim = (await store.claim(NOW, 1, NOW + 30, "w"))[0]
    planned = Outcome(
        attempt=attempt(run_id, claim.item.id, "planned"),
        enqueue=(NewItem(ItemKind.STEP, "a", NOW), NewItem(ItemKind.STEP, "b", NOW)),
        force_plan=True,
    )
    assert await store.complete(claim, planned, NOW, DAY)
    a, b = await store.claim(NOW, 2, NOW + 30, "w")
    failed = event(99, "inngest/function.failed")
    finish = Outcome(
        attempt=attempt(run_id, a.item.id, "failed"),
        finish=Finish(
            RunStatus.FAILED, output={"message": "boom"}, error={"name": "Error", "message": "boom"}
        ),
        events=(failed,),
        runs=(new_run(5, failed, "app-fn-failure"),),
    )
    assert await store.complete(a, finish, NOW + 1, DAY)
    run = await store.get_run(run_id)
    assert run is not None and run.status is RunStatus.FAILED and run.ended_at == NOW + 1
    assert run.error == {"name": "Error", "message": "boom"} and run.force_plan
    assert await store.complete(b, Outcome(attempt=attempt(run_id, b.item.id)), NOW, DAY) is False
    assert [r.function_slug for r in await store.runs_for_event(failed.internal_id)] == [
        "app-fn-failure"
    ]


async def test_a_joining_discovery_waits_for_the_last_pending_branch(store: Store) -> None:
    run_id = await one_run(store)
    claim = (await store.claim(NOW, 1, NOW + 30, "w"))[0]
    await store.complete(
        claim,
        Outcome(
            attempt=attempt(run_id, claim.item.id),
            enqueue=(NewItem(ItemKind.STEP, "a", NOW), NewItem(ItemKind.STEP, "b", NOW)),
        ),
        NOW,
        DAY,
    )
    a, b = await store.claim(NOW, 2, NOW + 30, "w")
    join = NewItem(ItemKind.DISCOVERY, "step", NOW, after_join=True)
    await store.complete(a, Outcome(attempt=attempt(run_id, a.item.id), enqueue=(join,)), NOW, DAY)
    state = await store.run_state(run_id)
    assert state is not None and state.pending_items == 1
    await store.complete(b, Outcome(attempt=attempt(run_id, b.item.id), enqueue=(join,)), NOW, DAY)
    [discovery] = await store.claim(NOW, 5, NOW + 30, "w")
    assert discovery.item.kind is ItemKind.DISCOVERY


async def test_saving_an_app_replaces_its_function_set(store: Store) -> None:
    url = "http://127.0.0.1:3000/api/inngest"

    def fn(slug: str) -> Function:
        return Function(
            slug=slug,
            app_url=url,
            name=slug,
            url=f"{url}?fnId={slug}",
            triggers=(Trigger(event="app/x", expression="event.data.n > 1"),),
            retries=2,
            config={"id": slug},
        )

    assert await store.save_app(App(url, "app", checksum="1"), [fn("app-a"), fn("app-b")])
    assert not await store.save_app(App(url, "app", checksum="1"), [fn("app-a"), fn("app-b")])
    assert await store.save_app(App(url, "app", checksum="2"), [fn("app-a")])
    assert await store.list_functions() == [fn("app-a")]
    await store.set_app_error(url, "unreachable", NOW)
    [app] = await store.list_apps()
    assert app.error == "unreachable" and app.app_id == "app"


async def test_release_all_makes_leased_items_due_at_once(store: Store) -> None:
    await one_run(store)
    await store.claim(NOW, 1, NOW + 30, "dead")
    if store.shared:
        # Another process may hold these leases: a shared backend waits for them to expire.
        assert await store.release_all() == 0
        assert await store.claim(NOW, 1, NOW + 30, "w") == []
        assert len(await store.claim(NOW + 31, 1, NOW + 61, "w")) == 1
        return
    assert await store.release_all() == 1
    assert len(await store.claim(NOW, 1, NOW + 30, "w")) == 1


async def test_events_are_listed_by_name_newest_first(store: Store) -> None:
    await store.ingest([event(1, "a"), event(2, "b"), event(3, "a")], [], NOW, DAY)
    assert [e.data["n"] for e in await store.list_events("a", 10)] == [3, 1]
    assert len(await store.list_events(None, 2)) == 2


async def test_the_sqlite_file_keeps_everything_across_a_reopen(tmp_path: Path) -> None:
    path = str(tmp_path / "inlet.db")
    first = SQLiteStore(path)
    await first.open()
    run_id = await one_run(first)
    await first.close()
    second = SQLiteStore(path)
    await second.open()
    try:
        run = await second.get_run(run_id)
        assert run is not None and run.status is RunStatus.QUEUED
        assert len(await second.claim(NOW, 1, NOW + 30, "w")) == 1
    finally:
        await second.close()


async def test_a_second_process_cannot_open_the_same_sqlite_file(tmp_path: Path) -> None:
    path = str(tmp_path / "inlet.db")
    first = SQLiteStore(path)
    await first.open()
    second = SQLiteStore(path)
    try:
        with pytest.raises(DatabaseLocked, match="in use by another inlet process"):
            await second.open()
    finally:
        await first.close()


async def test_closing_waits_for_writes_already_queued(tmp_path: Path) -> None:
    import asyncio

    path = str(tmp_path / "inlet.db")
    first = SQLiteStore(path)
    await first.open()
    writes = [asyncio.ensure_future(first.ingest([event(n)], [], NOW, DAY)) for n in range(50)]
    await asyncio.sleep(0)  # each write is now queued for the store thread
    await first.close()
    assert all(w.done() and not w.exception() for w in writes)
    second = SQLiteStore(path)
    await second.open()
    try:
        assert len(await second.list_events(None, 100)) == 50
    finally:
        await second.close()
