"""What only a shared PostgreSQL store does: wake other processes, elect one leader, let
two processes claim without taking the same item, write different runs at the same time,
and keep flow-control limits in total."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace

import psycopg

from inlet.model import (
    Attempt,
    Event,
    Finish,
    ItemKind,
    Listener,
    ListenerKind,
    Memo,
    NewItem,
    NewRun,
    Outcome,
    Rate,
    RunFlow,
    RunStatus,
)
from inlet.store.base import Claim
from inlet.store.postgres import PostgresStore, migrate

from .test_contract import DAY, NOW, event, new_run


async def test_work_queued_by_one_process_wakes_the_other(
    two: tuple[PostgresStore, PostgresStore],
) -> None:
    a, b = two
    woken = asyncio.Event()
    b.watch(woken.set, lambda: None)
    await asyncio.sleep(1.0)  # the listener connects and looks once on its own
    woken.clear()
    ev = event(1)
    await a.ingest([ev], [new_run(1, ev)], NOW, DAY)
    await asyncio.wait_for(woken.wait(), 5.0)


async def test_an_app_synced_through_one_process_is_announced_to_the_other(
    two: tuple[PostgresStore, PostgresStore],
) -> None:
    from inlet.model import App

    a, b = two
    synced = asyncio.Event()
    b.watch(lambda: None, synced.set)
    await asyncio.sleep(1.0)
    synced.clear()
    await a.save_app(App("http://127.0.0.1:1/api/inngest", "app"), [])
    await asyncio.wait_for(synced.wait(), 5.0)


async def test_one_leader_at_a_time_and_another_takes_over_when_it_goes(
    two: tuple[PostgresStore, PostgresStore],
) -> None:
    a, b = two
    assert await a.lead("cron")
    assert await a.lead("cron")  # still held
    assert not await b.lead("cron")
    assert await b.lead("other-job")  # leaders are per job
    await a.close()  # the process goes away: its session and its lock with it
    # The server ends the closed session's backend, and frees its lock, a moment after
    # the client hangs up (a loaded machine made that moment visible): the scheduler
    # retries too, so the takeover is checked within a deadline, not at once.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while not await b.lead("cron"):
        assert loop.time() < deadline, "b never took over the lock a released"
        await asyncio.sleep(0.05)


async def test_two_processes_claiming_at_once_never_take_the_same_item(
    two: tuple[PostgresStore, PostgresStore],
) -> None:
    a, b = two
    events = [event(n) for n in range(1, 41)]
    await a.ingest(events, [new_run(n, ev) for n, ev in enumerate(events, 1)], NOW, DAY)
    claimed: list[str] = []
    for _ in range(5):
        got = await asyncio.gather(a.claim(NOW, 5, NOW + 30, "a"), b.claim(NOW, 5, NOW + 30, "b"))
        claimed += [c.item.id for batch in got for c in batch]
    assert len(claimed) == 40
    assert len(set(claimed)) == 40


async def test_reads_recover_when_every_pooled_connection_was_terminated(pg_url: str) -> None:
    """After a database restart every pooled connection is dead at once; a read must not
    answer an error for each of them in turn."""
    import psycopg

    migrate(pg_url)
    store = PostgresStore(pg_url)
    await store.open()
    try:
        ev = event(1)
        await store.ingest([ev], [new_run(1, ev)], NOW, DAY)
        # Fill the pool: concurrent reads each hold a connection.
        for _ in range(5):
            await asyncio.gather(*(store.runs_for_event(ev.internal_id) for _ in range(8)))
            await asyncio.sleep(0.2)  # the pool grows in the background
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        for _ in range(3):
            runs = await store.runs_for_event(ev.internal_id)
            assert len(runs) == 1
    finally:
        await store.close()


async def _hold_run(
    store: PostgresStore, run_id: str
) -> tuple[asyncio.Task[None], threading.Event]:
    """A write transaction of ``store`` that locks ``run_id`` and stays open until the
    returned event is set (as a slow batch of that process would)."""
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        assert store._tx().run(run_id) is not None  # locks the run's row
        holding.set()
        assert release.wait(20), "the test never let the transaction end"

    task = asyncio.create_task(store._write_runs((run_id,), hold))
    assert await asyncio.to_thread(holding.wait, 10), "the holding transaction never began"
    return task, release


def _step(claim: Claim, step: str) -> Outcome:
    memo = Memo(step, {"data": step}, step, "StepRun")
    attempt = Attempt(claim.item.run_id, claim.item.id, step, 0, NOW, NOW, "step", 206)
    return Outcome(
        attempt=attempt, memos=(memo,), enqueue=(NewItem(ItemKind.DISCOVERY, "step", NOW),)
    )


async def test_write_transactions_of_two_processes_on_different_runs_overlap(
    two: tuple[PostgresStore, PostgresStore],
) -> None:
    """Process a holds a write transaction open on run 1; process b commits a step of run
    2 meanwhile (one global write lock would make it wait for a), while b's step of run 1
    waits for a's transaction to end (the run's row lock)."""
    a, b = two
    events = [event(1), event(2)]
    await a.ingest(events, [new_run(n, ev) for n, ev in enumerate(events, 1)], NOW, DAY)
    claims = {c.item.run_id: c for c in await b.claim(NOW, 10, NOW + 30, "b")}
    first, second = new_run(1, events[0]).id, new_run(2, events[1]).id
    held, release = await _hold_run(a, first)
    try:
        assert await asyncio.wait_for(
            b.complete(claims[second], _step(claims[second], "s"), NOW, DAY), 5
        )
        blocked = asyncio.create_task(
            b.complete(claims[first], _step(claims[first], "s"), NOW, DAY)
        )
        await asyncio.sleep(0.5)
        assert not held.done() and not blocked.done(), "run 1's write went past its lock"
    finally:
        release.set()
    await held
    assert await asyncio.wait_for(blocked, 10)
    for run_id in (first, second):
        state = await a.run_state(run_id)
        assert state is not None and [m.step_id for m in state.memos] == ["s"]


def _limited(n: int, ev: Event, flow: RunFlow) -> NewRun:
    return replace(new_run(n, ev), flow=flow)


async def test_a_concurrency_limit_holds_in_total_when_two_processes_claim_at_once(
    two: tuple[PostgresStore, PostgresStore],
) -> None:
    a, b = two
    flow = RunFlow(concurrency=(("fn:limited", 3),))
    events = [event(n) for n in range(1, 13)]
    await a.ingest(events, [_limited(n, ev, flow) for n, ev in enumerate(events, 1)], NOW, DAY)
    in_flight: dict[str, Claim] = {}
    done: list[str] = []
    for _ in range(30):
        got = await asyncio.gather(a.claim(NOW, 4, NOW + 60, "a"), b.claim(NOW, 4, NOW + 60, "b"))
        in_flight.update({c.item.id: c for batch in got for c in batch})
        assert len(in_flight) <= 3, f"{len(in_flight)} calls of a key limited to 3 in flight"
        if not in_flight:
            break
        # Both processes complete one call each at the same time, freeing slots.
        ending = list(in_flight.values())[:2]
        finished = await asyncio.gather(
            *(
                store.complete(claim, _finish(claim), NOW, DAY)
                for store, claim in zip((a, b), ending, strict=False)
            )
        )
        assert all(finished)
        for claim in ending:
            del in_flight[claim.item.id]
            done.append(claim.item.run_id)
    assert sorted(done) == sorted(new_run(n, ev).id for n, ev in enumerate(events, 1))


def _finish(claim: Claim) -> Outcome:
    attempt = Attempt(claim.item.run_id, claim.item.id, "step", 0, NOW, NOW, "ok", 200)
    return Outcome(attempt=attempt, finish=Finish(RunStatus.COMPLETED, output={"ok": True}))


async def test_a_rate_limit_holds_in_total_when_two_processes_admit_at_once(
    two: tuple[PostgresStore, PostgresStore],
) -> None:
    a, b = two
    flow = RunFlow(rate_limit=Rate("user-1", 1, 60.0))
    events = [event(n) for n in range(1, 21)]
    results = await asyncio.gather(
        *(
            (a if n % 2 else b).ingest([ev], [_limited(n, ev, flow)], NOW, DAY)
            for n, ev in enumerate(events, 1)
        )
    )
    assert sum(len(r.run_ids) for r in results) == 1


async def test_reading_a_run_does_not_wait_for_a_transaction_changing_it(
    two: tuple[PostgresStore, PostgresStore],
) -> None:
    a, b = two
    ev = event(1)
    run_id = (await a.ingest([ev], [new_run(1, ev)], NOW, DAY)).run_ids[0]
    held, release = await _hold_run(a, run_id)
    try:
        state = await asyncio.wait_for(b.run_state(run_id), 5)
        assert state is not None and state.run.id == run_id and state.pending_items == 1
        assert [s.run.id for s in await asyncio.wait_for(b.run_states([run_id, "none"]), 5)] == [
            run_id
        ]
    finally:
        release.set()
    await held


async def test_parallel_steps_of_one_run_completed_at_once_by_two_processes_join_once(
    two: tuple[PostgresStore, PostgresStore],
) -> None:
    """Each of 10 runs has two parallel steps, claimed and completed at the same moment by
    the two processes (and, within a process, in one batch): both memos are kept, the
    step count is 2, and the join queues exactly one discovery."""
    a, b = two
    events = [event(n) for n in range(1, 11)]
    await a.ingest(events, [new_run(n, ev) for n, ev in enumerate(events, 1)], NOW, DAY)
    plan = (NewItem(ItemKind.STEP, "p1", NOW), NewItem(ItemKind.STEP, "p2", NOW))
    for claim in await a.claim(NOW, 20, NOW + 30, "a"):
        attempt = Attempt(claim.item.run_id, claim.item.id, "step", 0, NOW, NOW, "plan", 206)
        assert await a.complete(claim, Outcome(attempt=attempt, enqueue=plan), NOW, DAY)
    steps = await a.claim(NOW, 40, NOW + 30, "a")
    assert len(steps) == 20
    join = NewItem(ItemKind.DISCOVERY, "step", NOW, after_join=True)

    def branch(claim: Claim) -> Outcome:
        step = claim.item.step_id
        attempt = Attempt(claim.item.run_id, claim.item.id, step, 0, NOW, NOW, "step", 206)
        memo = Memo(step, {"data": step}, step, "StepRun")
        return Outcome(attempt=attempt, memos=(memo,), enqueue=(join,), state_bytes=5)

    done = await asyncio.gather(
        *((a if c.item.step_id == "p1" else b).complete(c, branch(c), NOW, DAY) for c in steps)
    )
    assert all(done)
    states = await a.run_states([new_run(n, ev).id for n, ev in enumerate(events, 1)])
    assert [sorted(m.step_id for m in s.memos) for s in states] == [["p1", "p2"]] * 10
    assert {(s.run.step_count, s.run.state_size, s.pending_items) for s in states} == {(2, 10, 1)}


async def test_a_transaction_aborted_by_a_deadlock_runs_again(
    two: tuple[PostgresStore, PostgresStore],
) -> None:
    """Two processes lock two runs in opposite orders (as cancellations reaching other runs
    could): PostgreSQL aborts one of them, and its store thread runs it again."""
    a, b = two
    events = [event(1), event(2)]
    await a.ingest(events, [new_run(n, ev) for n, ev in enumerate(events, 1)], NOW, DAY)
    first, second = new_run(1, events[0]).id, new_run(2, events[1]).id
    holding = {first: threading.Event(), second: threading.Event()}
    calls: list[str] = []

    def cross(store: PostgresStore, mine: str, theirs: str) -> str:
        calls.append(mine)
        tx = store._tx()
        assert tx.run(mine) is not None
        holding[mine].set()
        assert holding[theirs].wait(10)
        assert tx.run(theirs) is not None  # one of the two waits for the other: a cycle
        return mine

    done = await asyncio.wait_for(
        asyncio.gather(a._write(cross, a, first, second), b._write(cross, b, second, first)), 30
    )
    assert list(done) == [first, second]
    # One of them ran again. Possibly more than once: a retry can take its first row again
    # before the survivor, woken by the abort, has locked it, and meet the survivor again.
    assert set(calls) == {first, second} and len(calls) >= 3
    assert max(calls.count(first), calls.count(second)) >= 2


async def _listening(store: PostgresStore) -> None:
    """Start ``store``'s listener; until it has loaded the names waited for."""
    store.watch(lambda: None, lambda: None)
    end = asyncio.get_running_loop().time() + 10
    while not store._waited.known:
        assert asyncio.get_running_loop().time() < end, "the listener never loaded the names"
        await asyncio.sleep(0.02)


async def _known(store: PostgresStore, name: str, deadline: float = 10.0) -> None:
    """Until ``store`` is listening and knows ``name`` is waited for."""
    end = asyncio.get_running_loop().time() + deadline
    while not (store._waited.known and store._listened({name})):
        assert asyncio.get_running_loop().time() < end, f"{name} never became known"
        await asyncio.sleep(0.02)


def _cancel_on(n: int, name: str) -> NewRun:
    """A run made with a ``cancelOn`` listener for events called ``name``."""
    ev = event(n)
    run = new_run(n, ev)
    listener = Listener(f"01LISTENER{n:016d}", run.id, ListenerKind.CANCEL, name, NOW + DAY)
    return replace(run, listeners=(listener,))


async def _store_with_listener(store: PostgresStore, n: int, name: str) -> None:
    run = _cancel_on(n, name)
    await store.ingest([event(n)], [run], NOW, DAY)


async def test_a_name_nobody_waits_for_needs_no_read_and_one_waited_in_another_process_is_heard(
    two: tuple[PostgresStore, PostgresStore],
) -> None:
    a, b = two
    await _listening(a)
    assert not a._listened({"app/stop"})
    assert await a.find_listeners([event(90, "app/stop")]) == {}
    await _store_with_listener(b, 1, "app/stop")  # its commit notifies a
    await _known(a, "app/stop")
    found = await a.find_listeners([event(91, "app/stop")])
    assert [listener.run_id for listener in found[event(91, "app/stop").internal_id]] == [
        new_run(1, event(1)).id
    ]


async def test_a_name_a_process_waits_for_itself_is_known_at_once(
    two: tuple[PostgresStore, PostgresStore],
) -> None:
    a, _ = two
    await _listening(a)
    await _store_with_listener(a, 1, "app/stop")
    assert a._listened({"app/stop"})


async def test_a_process_not_listening_reads_for_every_event(
    two: tuple[PostgresStore, PostgresStore],
) -> None:
    a, b = two  # a never listens, so it can hear of no listener: it reads every time
    assert a._listened({"app/stop"})
    await _store_with_listener(b, 1, "app/stop")
    found = await a.find_listeners([event(91, "app/stop")])
    assert event(91, "app/stop").internal_id in found


async def test_a_listener_stored_while_a_process_was_not_listening_is_loaded_when_it_is_again(
    two: tuple[PostgresStore, PostgresStore], pg_url: str
) -> None:
    a, b = two
    await _listening(a)
    with psycopg.connect(pg_url, autocommit=True) as admin:  # a's listening connection dies
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE query LIKE '%WITH RECURSIVE names%' AND pid <> pg_backend_pid()"
        )
    end = asyncio.get_running_loop().time() + 10
    while a._waited.known:  # it notices, and is unsure until it listens again
        assert asyncio.get_running_loop().time() < end
        await asyncio.sleep(0.02)
    assert a._listened({"app/stop"})
    await _store_with_listener(b, 1, "app/stop")  # its notification reaches nobody
    await _known(a, "app/stop")  # loaded when a listens again
    assert not a._listened({"app/never"})
