"""``Store.ingest`` with ``then``: the first calls of the runs an ingest creates are leased in
its transaction, up to ``then.calls``, when a claim at that moment would take them first;
the worker calls them without a claim of its own."""

from __future__ import annotations

from dataclasses import replace

from inlet.model import Attempt, Finish, Outcome, RunFlow
from inlet.model import RunStatus as Status
from inlet.store.base import Next, Store

from .test_contract import DAY, NOW, event, new_run

LEASE = NOW + 30


def then(calls: int = 10) -> Next:
    return Next(LEASE, "w", calls)


async def test_an_ingest_leases_the_first_calls_of_the_runs_it_creates(store: Store) -> None:
    ev = event(1)
    result = await store.ingest([ev], [new_run(1, ev)], NOW, DAY, then=then())
    [claim] = result.claims
    assert claim.item.run_id == result.run_ids[0] and claim.item.step_id == "step"
    assert claim.lease.startswith("w:")
    # What a claim would have handed over: the run started now, with its event.
    assert claim.state is not None
    read = await store.run_state(claim.item.run_id)
    assert read is not None and read.run.status is Status.RUNNING
    assert claim.state.run == read.run and read.run.started_at == NOW
    assert claim.state.events == (ev,) == read.events and claim.state.memos == ()
    # Leased: no claim takes it, and its lease is the fence of its completion.
    assert await store.claim(NOW, 10, LEASE, "other") == []
    done = Outcome(
        attempt=Attempt.of(claim.item, NOW, "completed"),
        finish=Finish(Status.COMPLETED, output="done"),
    )
    assert await store.complete(claim, done, NOW, DAY)
    run = await store.get_run(claim.item.run_id)
    assert run is not None and run.status is Status.COMPLETED


async def test_without_then_the_runs_wait_for_a_claim(store: Store) -> None:
    ev = event(1)
    result = await store.ingest([ev], [new_run(1, ev)], NOW, DAY)
    assert result.claims == ()
    run = await store.get_run(result.run_ids[0])
    assert run is not None and run.status is Status.QUEUED
    [claim] = await store.claim(NOW, 10, LEASE, "w")
    assert claim.item.run_id == result.run_ids[0]


async def test_no_more_calls_are_leased_than_the_worker_has_slots_for(store: Store) -> None:
    events = [event(n) for n in range(1, 4)]
    runs = [new_run(n, ev) for n, ev in enumerate(events, 1)]
    result = await store.ingest(events, runs, NOW, DAY, then=then(calls=2))
    assert len(result.run_ids) == 3 and len(result.claims) == 2
    leased = {c.item.run_id for c in result.claims}
    [waiting] = set(result.run_ids) - leased
    run = await store.get_run(waiting)
    assert run is not None and run.status is Status.QUEUED  # not started until claimed
    [rest] = await store.claim(NOW, 10, LEASE, "w")
    assert rest.item.run_id not in leased
    assert leased | {rest.item.run_id} == set(result.run_ids)


async def test_work_already_due_is_not_overtaken(store: Store) -> None:
    waiting = event(1)
    await store.ingest([waiting], [new_run(1, waiting)], NOW, DAY)
    ev = event(2)
    result = await store.ingest([ev], [new_run(2, ev)], NOW + 1, DAY, then=then())
    assert result.run_ids and result.claims == ()
    queued = await store.claim(NOW + 1, 10, LEASE, "w")
    assert [c.item.run_id for c in queued] == [new_run(1, waiting).id, new_run(2, ev).id]


async def test_a_run_with_a_concurrency_key_or_due_later_is_left_for_a_claim(store: Store) -> None:
    one, two = event(1), event(2)
    limited = replace(new_run(1, one), flow=RunFlow(concurrency=(("k", 1),)))
    later = replace(new_run(2, two), due_at=NOW + 5)
    result = await store.ingest([one, two], [limited, later], NOW, DAY, then=then())
    assert len(result.run_ids) == 2 and result.claims == ()
    [claim] = await store.claim(NOW, 10, LEASE, "w")
    assert claim.item.run_id == limited.id
    assert await store.next_due() == NOW + 5


async def test_a_repeated_event_creates_and_leases_nothing(store: Store) -> None:
    ev = event(1)
    first = await store.ingest([ev], [new_run(1, ev)], NOW, DAY, then=then())
    assert len(first.claims) == 1
    again = await store.ingest([ev], [new_run(2, ev)], NOW, DAY, then=then())
    assert again.run_ids == () and again.claims == ()
