"""A batch's consume and lease statements on PostgreSQL: one statement each for all its calls.

Each completion of a batch sent its consume and its run's update as statements of its
own; psycopg's CPU per statement (sending it in the pipeline, adapting its parameters)
was the largest part of the store thread's time under W1. Now a batch's calls are
gathered into one ``consume_items`` and one ``update_runs_lease`` statement
(``pg_adapter.Adapter.gather``), which must store and answer for each call what its own
statement did; the calls that change only their own run go first
(``writer.contained_first``), so a call that may change others does not stop that."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from inlet.model import Memo
from inlet.store.base import CallEnd, Next
from inlet.store.pg_adapter import translate
from inlet.store.postgres import PostgresStore

from .test_contract import DAY, NOW, event, new_run
from .test_pg_roundtrips import _ingested, _named_statements, _one_batch, _step
from .test_pg_roundtrips import store as store

__all__ = ["store"]


def _consumes_sent(store: PostgresStore) -> list[int]:
    """How many calls each ``consume_items`` statement the store thread sends carries."""
    conn = store._writes.conn
    sql = translate(store._q["consume_items"])
    sent: list[int] = []
    execute = conn.execute

    def counted(query: Any, params: Any = None, **kwargs: Any) -> Any:
        if query == sql:
            sent.append(params[0].count('"w:') if params else 0)
        return execute(query, params, **kwargs)

    conn.execute = counted  # type: ignore[method-assign]
    return sent


async def test_a_batch_consumes_all_its_calls_in_one_statement_each_answered_as_alone(
    store: PostgresStore,
) -> None:
    await _ingested(store, 4)
    one, two, several, three = await store.claim(NOW, 4, NOW + 60, "w")
    stale = replace(three, lease="w:stale")
    memos = tuple(Memo(s, {"data": s}, s, "StepRun") for s in ("a", "b", "c"))
    sent = _consumes_sent(store)
    done = await _one_batch(
        store,
        store.complete(one, _step(one), NOW, DAY),
        store.complete(two, _step(two), NOW, DAY),
        store.complete(several, replace(_step(several), memos=memos), NOW, DAY),
        store.complete(stale, _step(stale), NOW, DAY),
    )
    assert done == [True, True, True, False]
    assert sent == [4]  # one statement, the four calls in it
    for claim in (one, two):
        state = await store.run_state(claim.item.run_id)
        assert state is not None and state.run.step_count == 1
        assert [(m.step_id, m.value, m.seq) for m in state.memos] == [("one", {"data": 1}, 0)]
    # A call's several memos are numbered in order from its own run's step count.
    state = await store.run_state(several.item.run_id)
    assert state is not None and state.run.step_count == 3
    assert [(m.step_id, m.seq) for m in state.memos] == [("a", 0), ("b", 1), ("c", 2)]
    # The call whose lease no longer held stored nothing, and its item is still queued.
    state = await store.run_state(three.item.run_id)
    assert state is not None and state.memos == () and state.run.step_count == 0
    assert await store.complete(three, _step(three), NOW, DAY)
    state = await store.run_state(three.item.run_id)
    assert state is not None and state.run.step_count == 1


async def test_a_memo_its_step_has_already_is_not_stored_again_in_a_gathered_consume(
    store: PostgresStore,
) -> None:
    # A step answered twice (a retried call that had in fact finished) keeps its first
    # output; the run's step count does not move for the second.
    await _ingested(store, 2)
    one, two = await store.claim(NOW, 2, NOW + 60, "w")
    assert await store.complete(one, _step(one), NOW, DAY)
    (again,) = await store.claim(NOW, 1, NOW + 60, "w")
    assert again.item.run_id == one.item.run_id
    sent = _consumes_sent(store)
    done = await _one_batch(
        store,
        store.complete(again, _step(again), NOW, DAY),
        store.complete(two, _step(two), NOW, DAY),
    )
    assert done == [True, True] and sent == [2]
    state = await store.run_state(one.item.run_id)
    assert state is not None and state.run.step_count == 1
    assert [(m.step_id, m.seq) for m in state.memos] == [("one", 0)]
    state = await store.run_state(two.item.run_id)
    assert state is not None and state.run.step_count == 1


THEN = CallEnd(then=Next(NOW + 60, "w"))


async def test_a_batch_leases_its_runs_next_calls_in_one_statement(
    store: PostgresStore,
) -> None:
    await _ingested(store, 3)
    claims = await store.claim(NOW, 3, NOW + 60, "w")
    sent = _named_statements(store)
    done = await _one_batch(
        store, *(store.complete_call(c, _step(c), NOW, DAY, THEN) for c in claims)
    )
    assert sent.count("update_runs_lease") == 1 and "update_run_lease" not in sent
    assert sent.count("consume_items") == 1
    nexts = [d.next for d in done]
    assert all(d.applied for d in done) and None not in nexts
    # Each went in leased: no claim takes it, and its lease fences its completion.
    assert await store.claim(NOW, 3, NOW + 60, "other") == []
    for claim, nxt in zip(claims, nexts, strict=True):
        assert nxt is not None and nxt.item.run_id == claim.item.run_id
        assert not await store.complete(replace(nxt, lease="w:stale"), _step(claim), NOW, DAY)
        assert await store.complete(nxt, _step(nxt), NOW, DAY)


async def test_a_gathered_lease_leaves_the_call_when_an_older_run_s_work_is_due(
    store: PostgresStore,
) -> None:
    await _ingested(store, 2)
    claims = await store.claim(NOW, 2, NOW + 60, "w")
    other = event(9)
    await store.ingest([other], [replace(new_run(9, other), due_at=NOW - 1)], NOW - 1, DAY)
    sent = _named_statements(store)
    done = await _one_batch(
        store, *(store.complete_call(c, _step(c), NOW, DAY, THEN) for c in claims)
    )
    assert sent.count("update_runs_lease") == 1
    assert [(d.applied, d.next) for d in done] == [(True, None), (True, None)]
    queued = await store.claim(NOW, 10, NOW + 60, "w")
    assert queued[0].item.run_id == new_run(9, other).id
    assert sorted(c.item.run_id for c in queued[1:]) == sorted(c.item.run_id for c in claims)


async def test_calls_queued_behind_one_that_may_change_other_runs_are_gathered_all_the_same(
    store: PostgresStore,
) -> None:
    # A call that emits events (a run's last call emits its finished event) may change
    # other runs, so the calls queued after it were not sent ahead and went out one
    # statement each; the batch now runs the calls that change only their own run first.
    await _ingested(store, 4)
    emits, *others = await store.claim(NOW, 4, NOW + 60, "w")
    sent = _consumes_sent(store)
    done = await _one_batch(
        store,
        store.complete(emits, replace(_step(emits), events=(event(20, "app/emitted"),)), NOW, DAY),
        *(store.complete(c, _step(c), NOW, DAY) for c in others),
    )
    assert done == [True] * 4
    # One statement for all four: the three that change only their own run, then the one
    # that may change others (sent ahead last; before, it went first and alone).
    assert sent == [4]
    for claim in (emits, *others):
        state = await store.run_state(claim.item.run_id)
        assert state is not None and state.run.step_count == 1
    assert await store.get_event(event(20, "app/emitted").internal_id) is not None
