"""What one process's step costs PostgreSQL's store beyond its statements: wake-ups of its
own that it does not need, and round trips."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import psycopg
import pytest

from inlet.model import Attempt, ItemKind, Memo, NewItem, Outcome
from inlet.store import writer
from inlet.store.base import CallEnd, Claim, Next
from inlet.store.pg_adapter import translate
from inlet.store.postgres import PostgresStore, migrate
from inlet.store.sql.tx import SqlTx

from .test_contract import DAY, NOW, event, new_run


@pytest.fixture
async def store(pg_url: str) -> AsyncIterator[PostgresStore]:
    """One store on a fresh database (the package's ``store`` runs on every backend)."""
    migrate(pg_url)
    one = PostgresStore(pg_url)
    await one.open()
    try:
        yield one
    finally:
        await one.close()


async def test_a_process_is_woken_by_another_s_queued_work_but_not_by_its_own(
    two: tuple[PostgresStore, PostgresStore],
) -> None:
    # The applier wakes the executor when its own write commits: the NOTIFY that write
    # sends is for the other processes. Delivered here too, it woke the executor a few ms
    # later for a second claim that found nothing.
    a, b = two
    wakes: list[str] = []
    woken = asyncio.Event()

    def on_work() -> None:
        wakes.append("work")
        woken.set()

    a.watch(on_work, lambda: None)
    await asyncio.wait_for(woken.wait(), 5.0)  # the listener looks once when it connects
    wakes.clear()
    woken.clear()
    mine, theirs = event(1), event(2)
    await a.ingest([mine], [new_run(1, mine)], NOW, DAY)
    await b.ingest([theirs], [new_run(2, theirs)], NOW, DAY)
    # Notifications reach the listener in commit order: a's own came first, if at all.
    await asyncio.wait_for(woken.wait(), 5.0)
    await asyncio.sleep(0)
    assert wakes == ["work"]


async def _ingested(store: PostgresStore, runs: int) -> None:
    """``runs`` runs, each started by an event of its own, ingested one at a time."""
    for n in range(1, runs + 1):
        ev = event(n)
        await store.ingest([ev], [new_run(n, ev)], NOW, DAY)


def _step(claim: Claim) -> Outcome:
    memo = Memo("one", {"data": 1}, "one", "StepRun")
    attempt = Attempt(claim.item.run_id, claim.item.id, "one", 0, NOW, NOW, "step", 206)
    return Outcome(
        attempt=attempt, memos=(memo,), enqueue=(NewItem(ItemKind.DISCOVERY, "step", NOW),)
    )


async def test_the_store_connection_plans_each_statement_once_not_on_every_step(
    store: PostgresStore,
) -> None:
    # Left to choose (plan_cache_mode auto), PostgreSQL plans a prepared statement afresh
    # for its first five runs, and for ever after when its generic plan looks costlier,
    # as the claim's read of runs and memos did on every claim: ~180 us of its CPU a plan.
    for n in range(1, 9):  # past psycopg's prepare threshold (5 runs of a statement)
        ev = event(n)
        await store.ingest([ev], [new_run(n, ev)], NOW, DAY)
        (claim,) = await store.claim(NOW, 1, NOW + 60, "owner")
        assert await store.complete(claim, _step(claim), NOW, DAY)

    def plans() -> tuple[int, int]:
        row = store._writes.execute(
            "SELECT coalesce(sum(generic_plans), 0), coalesce(sum(custom_plans), 0) "
            "FROM pg_prepared_statements"
        ).fetchone()
        return int(row[0]), int(row[1])

    generic, custom = await store._write(plans)
    assert generic > 0 and custom == 0


async def test_statements_planned_on_empty_tables_find_rows_by_index_once_the_tables_fill(
    store: PostgresStore,
) -> None:
    # Each statement is planned once, on its first runs: here, on empty tables. The plan
    # is kept until PostgreSQL analyses the table again (autovacuum: a minute at the
    # soonest). `id = ANY(...)` planned on an empty runs table was a sequential scan (in a
    # burst of 12,000 runs, every claim read every run), and start_runs, planned while no
    # run was queued, went through every QUEUED entry of runs_status.
    claims = []
    for n in range(1, 9):  # past psycopg's prepare threshold; each claim starts a run
        ev = event(n)
        await store.ingest([ev], [new_run(n, ev)], NOW, DAY)
        claims += await store.claim(NOW, 1, NOW + 60, "owner")
    for claim in claims:
        assert await store.complete(claim, _step(claim), NOW, DAY)
    grown = [event(n) for n in range(100, 2100)]
    await store.ingest(grown, [new_run(n, ev) for n, ev in enumerate(grown, 100)], NOW, DAY)
    (claim,) = await store.claim(NOW, 1, NOW + 60, "owner")
    assert await store.complete(claim, _step(claim), NOW, DAY)

    def plans() -> dict[str, str]:
        db = store._writes
        prepared = db.execute(
            "SELECT name, statement, cardinality(parameter_types) FROM pg_prepared_statements"
        ).fetchall()
        found = {}
        for name, statement, arity in prepared:
            # A generic plan does not depend on its parameters: NULLs show it.
            nulls = ", ".join(["NULL"] * arity)
            explained = db.execute(
                f"EXPLAIN EXECUTE {name}({nulls})" if arity else f"EXPLAIN EXECUTE {name}"
            ).fetchall()
            found[statement] = "\n".join(row[0] for row in explained)
        return found

    found = await store._write(plans)
    assert len(found) >= 8  # ingest, claim and completion statements
    tables = ("runs", "queue", "memos", "events")
    watched = set(tables) | {
        name
        for (name,) in await store._write(
            lambda: store._writes.execute(
                "SELECT indexname FROM pg_indexes WHERE tablename = ANY(?)", [list(tables)]
            ).fetchall()
        )
    }
    whole = {
        statement.split("\n")[0]: plan
        for statement, plan in found.items()
        if any(f"Seq Scan on {table} " in plan for table in tables) or _walks(plan, watched)
    }
    assert whole == {}


def _walks(plan: str, watched: set[str]) -> bool:
    """Whether a scan of a watched table or index has an index condition that no value of
    the statement narrows (no parameter, no other table's column): it reads every entry of
    a constant, as start_runs did when it found its runs through every QUEUED entry of
    runs_status (22 ms a claim at 100,000 queued runs, bench W5)."""
    scanned = ""
    for line in plan.splitlines():
        node = line.strip()
        if "Scan" in node and " on " in node:
            scanned = node.split(" on ", 1)[1].split()[0]
        elif node.startswith("Index Cond:") and scanned in watched and not {"$", "."} & set(node):
            return True
    return False


async def test_a_process_alone_on_its_database_sends_no_wake_ups_until_another_listens(
    two: tuple[PostgresStore, PostgresStore], pg_url: str
) -> None:
    # Alone, a NOTIFY per step woke only the process's own listener: a PostgreSQL backend
    # and a thread scheduled for nothing on every step.
    a, b = two
    a.watch(lambda: None, lambda: None)
    with psycopg.connect(pg_url, autocommit=True) as spy:
        spy.execute("LISTEN inlet_work")
        deadline = time.monotonic() + 5
        while not a._alone:  # a's listener has connected and found no other
            assert time.monotonic() < deadline, "a's listener never started"
            await asyncio.sleep(0.01)
        ev = event(1)
        await a.ingest([ev], [new_run(1, ev)], NOW, DAY)  # work due now
        with psycopg.connect(pg_url, autocommit=True) as other:
            other.execute("NOTIFY inlet_work, 'marker'")
        # Notifications arrive in commit order: a's, had it sent one, would come first.
        notes = [n.payload for n in spy.notifies(timeout=5, stop_after=1)]
        assert notes == ["marker"]

        woken = asyncio.Event()
        b.watch(woken.set, lambda: None)
        await asyncio.wait_for(woken.wait(), 5.0)  # b's listener looks once when it starts
        woken.clear()
        # a hears b's hello and notifies again: b is woken by a's work.
        deadline = time.monotonic() + 5
        n = 2
        while not woken.is_set() and time.monotonic() < deadline:
            ev = event(n)
            await a.ingest([ev], [new_run(n, ev)], NOW, DAY)
            n += 1
            await asyncio.sleep(0.05)
    assert woken.is_set() and not a._alone


ROUND_TRIPS = ("BasePipeline._fetch_gen", "BasePipeline._sync_gen", "BasePipeline._exit_gen")
"""psycopg's waits that send what the pipeline holds and wait for answers."""


def _count_round_trips(store: PostgresStore) -> list[str]:
    """The store thread's connection's round trips, as they happen."""
    conn = store._writes.conn
    waits: list[str] = []
    wait = conn.wait

    def counted(gen: Any, *args: Any, **kwargs: Any) -> Any:
        name = getattr(gen, "__qualname__", "")
        if name in ROUND_TRIPS:
            waits.append(name)
        return wait(gen, *args, **kwargs)

    conn.wait = counted  # type: ignore[method-assign]
    return waits


async def test_an_ingest_asks_which_functions_are_paused_in_the_round_trip_of_its_events(
    store: PostgresStore,
) -> None:
    # Read after the events' insert had been answered, the paused functions cost an ingest
    # that starts runs a round trip of its own, one after the other on the unloaded path.
    await store.set_paused("app-paused", NOW)
    trips = _count_round_trips(store)
    first, second, third = event(1), event(2), event(3)
    result = await store.ingest([first], [new_run(1, first)], NOW, DAY)
    ahead = len(trips)
    # The same ingest asking when the engine needs to know, as before:
    store.ask_paused_ahead = lambda tx: None  # type: ignore[method-assign]
    trips.clear()
    await store.ingest([second], [new_run(2, second)], NOW, DAY)
    assert len(trips) == ahead + 1
    del store.ask_paused_ahead
    # Asked ahead, the answer is the same: a paused function starts no run.
    paused = await store.ingest([third], [new_run(3, third, "app-paused")], NOW, DAY)
    assert result.run_ids == (new_run(1, first).id,)
    assert paused.new_event_ids == (third.internal_id,) and paused.run_ids == ()


async def test_a_claim_asks_for_due_calls_in_the_round_trip_of_its_due_timers(
    store: PostgresStore,
) -> None:
    # Read one after the other, the due timers and the due calls cost a claim two round
    # trips: on the unloaded path, every run's first call waited for both.
    await _ingested(store, 2)
    trips = _count_round_trips(store)
    # The same claim asking for the due calls once the timers are read, as before:
    store._claim_tx = lambda now, limit: store._tx()  # type: ignore[method-assign]
    (first,) = await store.claim(NOW, 1, NOW + 60, "w", timers=64)
    late = len(trips)
    del store._claim_tx
    sleep = NewItem(ItemKind.TIMER, "sleep", NOW)
    attempt = Attempt(first.item.run_id, first.item.id, "step", 0, NOW, NOW, "step", 206)
    assert await store.complete(first, Outcome(attempt=attempt, enqueue=(sleep,)), NOW, DAY)
    trips.clear()
    claimed = await store.claim(NOW, 1, NOW + 60, "w", timers=64)
    ahead = len(trips)
    assert ahead == late - 1
    # Asked ahead, the claim takes what it took before: the due timer beyond the limit,
    # and the other run's first call with its state.
    (other,) = {new_run(n, event(n)).id for n in (1, 2)} - {first.item.run_id}
    assert sorted((c.item.kind, c.item.run_id) for c in claimed) == [
        (ItemKind.DISCOVERY, other),
        (ItemKind.TIMER, first.item.run_id),
    ]
    assert all(c.state is not None for c in claimed)


async def _a_step_s_round_trips(
    store: PostgresStore,
) -> tuple[Claim, Claim, list[str], int]:
    """Two runs claimed; the first's step completed: both claims, the round trips counted
    from now on (none yet), and how many that step waited for."""
    await _ingested(store, 2)
    one, two = await store.claim(NOW, 2, NOW + 60, "w")
    trips = _count_round_trips(store)
    assert await store.complete(one, _step(one), NOW, DAY)
    alone = len(trips)
    trips.clear()
    return one, two, trips, alone


async def test_leasing_a_run_s_next_step_costs_its_completion_no_round_trip(
    store: PostgresStore,
) -> None:
    # Whether the next step was the first due item was read before it was leased: a round
    # trip of its own on every step of the unloaded path. Now the lease says whether it
    # took, and that answer comes back with the commit's.
    one, two, trips, alone = await _a_step_s_round_trips(store)
    then = CallEnd(then=Next(NOW + 60, "w"))
    later = replace(_step(two), enqueue=(NewItem(ItemKind.DISCOVERY, "step", NOW + 1),))
    done = await store.complete_call(two, later, NOW + 1, DAY, then)
    assert len(trips) == alone
    # Not leased: one's next step ranks before it; the answer is right.
    assert done.applied and done.next is None
    trips.clear()
    (again,) = await store.claim(NOW, 1, NOW + 60, "w")
    assert again.item.run_id == one.item.run_id
    trips.clear()
    second = replace(_step(again), memos=(Memo("two", {"data": 2}, "two", "StepRun"),))
    done = await store.complete_call(again, second, NOW, DAY, then)
    assert len(trips) == alone
    assert done.applied and done.next is not None and done.next.item.run_id == one.item.run_id


async def test_a_completion_writes_its_run_queues_its_next_call_and_leases_it_at_once(
    store: PostgresStore,
) -> None:
    # The run's row and its next call, then the lease if that call was first: two
    # statements on every step, the second an update of the row the first inserted.
    ev = event(1)
    await store.ingest([ev], [new_run(1, ev)], NOW, DAY)
    (claim,) = await store.claim(NOW, 1, NOW + 60, "w")
    sent = _named_statements(store)
    then = CallEnd(then=Next(NOW + 60, "w"))
    done = await store.complete_call(claim, _step(claim), NOW, DAY, then)
    assert done.applied and done.next is not None
    assert "update_run_lease" in sent
    assert not {"lease_if_first", "update_run_enqueue_one", "update_run_enqueue"} & set(sent)
    # Leased: no claim takes the call, and its lease fences its completion.
    assert await store.claim(NOW, 1, NOW + 60, "other") == []
    assert not await store.complete(replace(done.next, lease="w:0"), _step(claim), NOW, DAY)
    assert await store.complete(done.next, _step(done.next), NOW, DAY)


def _named_statements(store: PostgresStore) -> list[str]:
    """The names of the statements the store thread's connection sends, as they go (a
    statement gathered from several calls once)."""
    names = {translate(sql): name for name, sql in store._q.items()}
    conn = store._writes.conn
    sent: list[str] = []
    execute = conn.execute

    def named(query: Any, params: Any = None, **kwargs: Any) -> Any:
        sent.append(names.get(query, "?"))
        return execute(query, params, **kwargs)

    conn.execute = named  # type: ignore[method-assign]
    return sent


class _RowFirst(SqlTx):
    """The port as it was: the item consumed only once the run's row has been read."""

    __slots__ = ()

    def consume_ahead(self, *args: Any, **kwargs: Any) -> None:
        return None


async def test_a_completion_reads_its_run_and_consumes_its_item_in_one_round_trip(
    store: PostgresStore,
) -> None:
    # The memos are numbered on from the run's step count: read first, the row cost every
    # completion a round trip before its consume statement could be sent.
    await _ingested(store, 3)
    one, two, three = await store.claim(NOW, 3, NOW + 60, "w")
    trips = _count_round_trips(store)
    store._tx = lambda: _RowFirst(store._conn, store._q, store)  # type: ignore[method-assign]
    assert await store.complete(one, _step(one), NOW, DAY)
    row_first = len(trips)
    del store._tx
    trips.clear()
    assert await store.complete(two, _step(two), NOW, DAY)
    assert len(trips) == row_first - 1
    # What it stored is what the row-first path stores: the memo numbered on, the run on.
    for claim in (one, two):
        state = await store.run_state(claim.item.run_id)
        assert state is not None and state.run.step_count == 1
        assert [(m.step_id, m.seq) for m in state.memos] == [("one", 0)]
    # A lease that no longer holds stores nothing, ahead or not.
    stale = replace(three, lease="w:stale")
    assert not await store.complete(stale, _step(stale), NOW, DAY)
    state = await store.run_state(three.item.run_id)
    assert state is not None and state.memos == () and state.run.step_count == 0


async def _one_batch(store: PostgresStore, *jobs: Any) -> list[Any]:
    """Run ``jobs`` (coroutines of the store) in one batch of its thread: it is held on a
    job of its own until every one of them is queued."""
    gate = threading.Event()
    held = asyncio.ensure_future(store._call(gate.wait, 10))
    await asyncio.sleep(0.05)  # the thread is in the gate's job
    tasks = [asyncio.ensure_future(job) for job in jobs]
    await asyncio.sleep(0.05)  # every job is queued behind it
    gate.set()
    await held
    return list(await asyncio.gather(*tasks))


async def test_a_batch_of_completions_waits_once_for_all_their_consumes(
    store: PostgresStore,
) -> None:
    # Each completion of a batch sent its consume statement in its turn and waited for
    # the answer before the next job's went out: a round trip per step, one after the
    # other on the store thread, which bounded a burst on PostgreSQL.
    await _ingested(store, 8)
    claims = await store.claim(NOW, 8, NOW + 60, "w")
    first, rest = claims[:4], claims[4:]
    trips = _count_round_trips(store)
    assert await store.complete(first[0], _step(first[0]), NOW, DAY)
    alone = len(trips)
    trips.clear()
    done = await _one_batch(store, *(store.complete(c, _step(c), NOW, DAY) for c in first[1:]))
    assert all(done) and len(trips) == alone
    # Sent in turn, as before, the same batch waits once per completion more.
    trips.clear()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(writer, "send_ahead", lambda batch: [job[0] for job in batch])
        done = await _one_batch(store, *(store.complete(c, _step(c), NOW, DAY) for c in rest))
    assert all(done) and len(trips) == alone + len(rest) - 1
    for claim in claims:
        state = await store.run_state(claim.item.run_id)
        assert state is not None and state.run.step_count == 1
        assert [(m.step_id, m.seq) for m in state.memos] == [("one", 0)]


async def test_two_branches_of_one_run_completed_in_one_batch_are_numbered_in_turn(
    store: PostgresStore,
) -> None:
    # The second branch's consume numbers its memo on from the run's step count, which the
    # first branch's job moves on: sent ahead with the first's, both would take seq 0.
    ev = event(1)
    await store.ingest([ev], [new_run(1, ev)], NOW, DAY)
    (discovery,) = await store.claim(NOW, 1, NOW + 60, "w")
    branches = (NewItem(ItemKind.STEP, "a", NOW), NewItem(ItemKind.STEP, "b", NOW))
    fan = Outcome(attempt=_step(discovery).attempt, enqueue=branches)
    assert await store.complete(discovery, fan, NOW, DAY)
    a, b = sorted(await store.claim(NOW, 2, NOW + 60, "w"), key=lambda c: c.item.step_id)

    def branch(claim: Claim) -> Outcome:
        step = claim.item.step_id
        memo = Memo(step, {"data": step}, step, "StepRun")
        return replace(_step(claim), memos=(memo,), enqueue=())

    assert await _one_batch(
        store, store.complete(a, branch(a), NOW, DAY), store.complete(b, branch(b), NOW, DAY)
    ) == [True, True]
    state = await store.run_state(a.item.run_id)
    assert state is not None and state.run.step_count == 2
    assert sorted((m.step_id, m.seq) for m in state.memos) == [("a", 0), ("b", 1)]


async def test_a_claim_in_a_batch_leaves_the_completions_their_locked_rows(
    store: PostgresStore,
) -> None:
    # The rows a batch locks as it begins come back with their locks, so its completions
    # read no run. A claim in the batch counted as a write that may change any run, and
    # every completion after it read its run again: a statement and a round trip each,
    # for about a third of the steps under W1.
    await _ingested(store, 4)
    one, two = await store.claim(NOW, 2, NOW + 60, "w")
    sent = _named_statements(store)
    claimed, *done = await _one_batch(
        store,
        store.claim(NOW, 2, NOW + 60, "w"),
        store.complete(one, _step(one), NOW, DAY),
        store.complete(two, _step(two), NOW, DAY),
    )
    assert done == [True, True] and len(claimed) == 2
    assert "lock_run_row" not in sent
    for claim in (one, two):
        state = await store.run_state(claim.item.run_id)
        assert state is not None and state.run.step_count == 1
    for claim in claimed:  # the claim started its runs all the same
        state = await store.run_state(claim.item.run_id)
        assert state is not None and state.run.status.value == "RUNNING"


async def test_a_call_with_several_memos_waits_no_more_than_one_with_one(
    store: PostgresStore,
) -> None:
    # Parallel steps can come back in one response. Their memos go in the consume
    # statement as one JSON array; stored one at a time, each cost a round trip.
    _, several, trips, alone = await _a_step_s_round_trips(store)
    memos = tuple(Memo(s, {"data": s}, s, "StepRun") for s in ("a", "b", "c"))
    assert await store.complete(several, replace(_step(several), memos=memos), NOW, DAY)
    assert len(trips) == alone
    state = await store.run_state(several.item.run_id)
    assert state is not None and state.run.step_count == 3
    assert [(m.step_id, m.value, m.seq) for m in state.memos] == [
        ("a", {"data": "a"}, 0),
        ("b", {"data": "b"}, 1),
        ("c", {"data": "c"}, 2),
    ]
