"""The store contract for waiting runs: timers, listeners, resumes, cancellations, crons."""

from __future__ import annotations

from inlet.ids import new_ulid
from inlet.model import (
    Attempt,
    Cancellation,
    Event,
    ItemKind,
    Listener,
    ListenerKind,
    Memo,
    NewItem,
    NewRun,
    Outcome,
    Resume,
    RunStatus,
)
from inlet.store import Store

NOW = 1_800_000_000.0
DAY = 86_400.0


def event(n: int, name: str = "app/test", **data: object) -> Event:
    internal = f"01EVENT{n:019d}"
    return Event(
        internal_id=internal,
        name=name,
        data=dict(data),
        id=internal,
        ts=int(NOW * 1000),
        received_at=NOW,
    )


def attempt(run_id: str, item_id: str = "x") -> Attempt:
    return Attempt(
        run_id=run_id,
        item_id=item_id,
        step_id="step",
        attempt=0,
        started_at=NOW,
        ended_at=NOW,
        outcome="waiting",
    )


def wait_for(run_id: str, step: str, event_name: str = "app/go", index: object = 7) -> Listener:
    return Listener(
        id=f"{run_id}:{step}",
        run_id=run_id,
        kind=ListenerKind.WAIT,
        event=event_name,
        expires_at=NOW + 60,
        step_id=step,
        expression=f"async.data.id == {index}",
        index=(("data.id", index),),
    )


async def waiting_run(store: Store, n: int = 1, index: object = 7) -> str:
    """A run whose discovery answered with a wait on app/go (data.id == index)."""
    ev = event(n)
    run_id = f"01RUN{n:021d}"
    await store.ingest([ev], [NewRun(run_id, "app-fn", (ev.internal_id,), f"k{n}", NOW)], NOW, DAY)
    [claim] = [c for c in await store.claim(NOW, 100, NOW + 30, "w") if c.item.run_id == run_id]
    outcome = Outcome(
        attempt=attempt(run_id, claim.item.id),
        listeners=(wait_for(run_id, "w1", index=index),),
        enqueue=(
            NewItem(
                ItemKind.TIMER,
                "w1",
                NOW + 60,
                name="w1",
                payload={"memo": None, "op": "WaitForEvent"},
            ),
        ),
    )
    assert await store.complete(claim, outcome, NOW, DAY)
    return run_id


async def test_a_listener_is_found_by_its_event_name_and_indexed_value(store: Store) -> None:
    run_id = await waiting_run(store)
    hit, miss, other = event(10, "app/go", id=7), event(11, "app/go", id=8), event(12, "x", id=7)
    found = await store.find_listeners([hit, miss, other])
    assert [lst.id for lst in found[hit.internal_id]] == [f"{run_id}:w1"]
    assert miss.internal_id not in found and other.internal_id not in found


async def test_an_int_valued_float_finds_the_listener_of_the_int(store: Store) -> None:
    await waiting_run(store)
    found = await store.find_listeners([event(10, "app/go", id=7.0)])
    assert len(found[event(10).internal_id]) == 1


async def test_a_listener_without_an_index_is_a_candidate_for_every_event_of_its_name(
    store: Store,
) -> None:
    ev = event(1)
    await store.ingest(
        [ev],
        [
            NewRun(
                "01RUN1",
                "app-fn",
                (ev.internal_id,),
                "k",
                NOW,
                listeners=(
                    Listener(
                        id="01RUN1:cancel:0",
                        run_id="01RUN1",
                        kind=ListenerKind.CANCEL,
                        event="app/stop",
                        expires_at=NOW + 60,
                    ),
                ),
            )
        ],
        NOW,
        DAY,
    )
    found = await store.find_listeners([event(10, "app/stop", anything=1)])
    assert [lst.kind for lst in found[event(10).internal_id]] == [ListenerKind.CANCEL]


async def test_a_resume_records_the_memo_drops_the_timer_and_asks_for_discovery(
    store: Store,
) -> None:
    run_id = await waiting_run(store)
    go = event(10, "app/go", id=7).to_wire()
    result = await store.ingest([], [], NOW + 1, DAY, [Resume(f"{run_id}:w1", run_id, "w1", go)])
    assert result.resumed == (f"{run_id}:w1",)
    state = await store.run_state(run_id)
    assert state is not None and [(m.step_id, m.value) for m in state.memos] == [("w1", go)]
    claims = await store.claim(NOW + 100, 10, NOW + 130, "w")
    assert [(c.item.kind, c.item.step_id) for c in claims] == [(ItemKind.DISCOVERY, "step")]
    assert await store.find_listeners([event(11, "app/go", id=7)]) == {}


async def test_two_events_never_resolve_one_wait(store: Store) -> None:
    run_id = await waiting_run(store)
    first = Resume(f"{run_id}:w1", run_id, "w1", {"n": 1})
    second = Resume(f"{run_id}:w1", run_id, "w1", {"n": 2})
    assert (await store.ingest([], [], NOW, DAY, [first])).resumed == (first.listener_id,)
    assert (await store.ingest([], [], NOW, DAY, [second])).resumed == ()
    state = await store.run_state(run_id)
    assert state is not None and state.memos[0].value == {"n": 1}


async def test_a_timer_that_records_its_memo_removes_the_steps_listener(store: Store) -> None:
    run_id = await waiting_run(store)
    [timer] = await store.claim(NOW + 60, 10, NOW + 90, "w")
    assert timer.item.kind is ItemKind.TIMER and timer.item.payload == {
        "memo": None,
        "op": "WaitForEvent",
    }
    outcome = Outcome(
        attempt=attempt(run_id, timer.item.id),
        memos=(Memo("w1", None, "w1", "WaitForEvent"),),
        enqueue=(NewItem(ItemKind.DISCOVERY, "step", NOW + 60),),
    )
    assert await store.complete(timer, outcome, NOW + 60, DAY)
    assert await store.find_listeners([event(10, "app/go", id=7)]) == {}
    late = Resume(f"{run_id}:w1", run_id, "w1", {"late": True})
    assert (await store.ingest([], [], NOW + 61, DAY, [late])).resumed == ()


async def test_a_cancellation_ends_the_run_drops_its_work_and_stores_its_events(
    store: Store,
) -> None:
    run_id = await waiting_run(store)
    error = {"name": "FunctionCancelled", "message": "stop"}
    cancelled = event(20, "inngest/function.cancelled", run_id=run_id)
    result = await store.ingest(
        [], [], NOW + 1, DAY, cancels=[Cancellation(run_id, error, events=(cancelled,))]
    )
    assert result.cancelled == (run_id,)
    run = await store.get_run(run_id)
    assert run is not None and run.status is RunStatus.CANCELLED and run.error == error
    assert await store.claim(NOW + 1000, 10, NOW + 1030, "w") == []
    assert await store.find_listeners([event(10, "app/go", id=7)]) == {}
    assert await store.get_event(cancelled.internal_id) == cancelled
    assert [a.outcome for a in await store.history(run_id)][-1] == "cancelled"


async def test_an_ended_run_cannot_be_cancelled_and_its_events_are_not_stored(store: Store) -> None:
    run_id = await waiting_run(store)
    error = {"name": "FunctionCancelled", "message": "stop"}
    await store.ingest([], [], NOW, DAY, cancels=[Cancellation(run_id, error)])
    late = event(21, "inngest/function.cancelled")
    again = await store.ingest([], [], NOW, DAY, cancels=[Cancellation(run_id, error, (late,))])
    assert again.cancelled == () and await store.get_event(late.internal_id) is None


async def test_run_timers_come_with_the_run_and_do_not_hold_a_join_back(store: Store) -> None:
    ev = event(1)
    timer = NewItem(
        ItemKind.TIMER, "timeout:finish", NOW + 300, payload={"timeout": "finish", "seconds": 300}
    )
    await store.ingest(
        [ev], [NewRun("01RUN1", "app-fn", (ev.internal_id,), "k", NOW, timers=(timer,))], NOW, DAY
    )
    [discovery] = await store.claim(NOW, 10, NOW + 30, "w")
    join = NewItem(ItemKind.DISCOVERY, "step", NOW, after_join=True)
    await store.complete(
        discovery,
        Outcome(
            attempt=attempt("01RUN1", discovery.item.id),
            enqueue=(NewItem(ItemKind.STEP, "a", NOW),),
        ),
        NOW,
        DAY,
    )
    [step] = await store.claim(NOW, 10, NOW + 30, "w")
    await store.complete(
        step, Outcome(attempt=attempt("01RUN1", step.item.id), enqueue=(join,)), NOW, DAY
    )
    kinds = sorted(c.item.kind.value for c in await store.claim(NOW + 400, 10, NOW + 430, "w"))
    assert kinds == ["discovery", "timer"]


async def test_claiming_a_runs_first_call_marks_it_running(store: Store) -> None:
    ev = event(1)
    await store.ingest([ev], [NewRun("01RUN1", "app-fn", (ev.internal_id,), "k", NOW)], NOW, DAY)
    [claim] = await store.claim(NOW + 2, 1, NOW + 30, "w")
    run = await store.get_run("01RUN1")
    assert run is not None and run.status is RunStatus.RUNNING and run.started_at == NOW + 2
    assert claim.state is not None and claim.state.run.status is RunStatus.RUNNING


async def test_active_runs_are_listed_by_function_and_creation_time(store: Store) -> None:
    for n in range(3):
        ev = event(n)
        await store.ingest(
            [ev],
            [NewRun(f"01RUN{n}", "app-a" if n < 2 else "app-b", (ev.internal_id,), f"k{n}", NOW)],
            NOW + n,
            DAY,
        )
    await store.ingest([], [], NOW, DAY, cancels=[Cancellation("01RUN0", {"message": "x"})])
    assert [r.id for r in await store.list_runs("app-a", active=True)] == ["01RUN1"]
    assert [r.id for r in await store.list_runs("app-a", active=False)] == ["01RUN1", "01RUN0"]
    assert [r.id for r in await store.list_runs(None, active=False, created_after=NOW + 1.5)] == [
        "01RUN2"
    ]


async def test_a_cron_cursor_only_moves_forward(store: Store) -> None:
    await store.set_cron_cursor("app-fn", "* * * * *", NOW)
    await store.set_cron_cursor("app-fn", "* * * * *", NOW - 60)
    assert await store.cron_cursors() == {("app-fn", "* * * * *"): NOW}


async def test_a_matching_event_that_arrived_during_the_call_resolves_the_new_wait(
    store: Store,
) -> None:
    ev = event(1)
    await store.ingest([ev], [NewRun("01RUN1", "app-fn", (ev.internal_id,), "k", NOW)], NOW, DAY)
    [claim] = await store.claim(NOW, 1, NOW + 30, "w")
    before = Event(
        internal_id=new_ulid(NOW - 1),
        name="app/go",
        data={"id": 7},
        id="b",
        ts=1,
        received_at=NOW - 1,
    )
    during = Event(
        internal_id=new_ulid(NOW + 0.5),
        name="app/go",
        data={"id": 7},
        id="d",
        ts=1,
        received_at=NOW + 0.5,
    )
    await store.ingest([before, during], [], NOW + 0.5, DAY)
    call = Attempt(
        run_id="01RUN1",
        item_id=claim.item.id,
        step_id="step",
        attempt=0,
        started_at=NOW,
        ended_at=NOW + 1,
        outcome="waiting",
    )
    outcome = Outcome(
        attempt=call,
        listeners=(wait_for("01RUN1", "w1"),),
        enqueue=(NewItem(ItemKind.TIMER, "w1", NOW + 60, payload={"memo": None}),),
    )
    assert await store.complete(claim, outcome, NOW + 1, DAY)
    state = await store.run_state("01RUN1")
    assert state is not None and [(m.step_id, m.value["id"]) for m in state.memos] == [("w1", "d")]
    claims = await store.claim(NOW + 100, 10, NOW + 130, "w")
    assert [c.item.kind for c in claims] == [ItemKind.DISCOVERY]


async def test_a_wait_resolved_while_a_parallel_branch_runs_joins_the_group(store: Store) -> None:
    ev = event(20)
    await store.ingest([ev], [NewRun("01RUNJ", "app-fn", (ev.internal_id,), "kj", NOW)], NOW, DAY)
    [first] = await store.claim(NOW, 10, NOW + 30, "w")
    # One discovery answered with a wait and a parallel branch to call.
    await store.complete(
        first,
        Outcome(
            attempt=attempt("01RUNJ", first.item.id),
            listeners=(wait_for("01RUNJ", "w1", index=5),),
            enqueue=(NewItem(ItemKind.STEP, "b1", NOW),),
        ),
        NOW,
        DAY,
    )
    [branch] = await store.claim(NOW, 10, NOW + 30, "w")
    assert branch.item.kind is ItemKind.STEP
    resumed = await store.ingest([], [], NOW, DAY, [Resume("01RUNJ:w1", "01RUNJ", "w1", {})])
    assert resumed.resumed == ("01RUNJ:w1",)
    assert await store.claim(NOW, 10, NOW + 30, "w") == []
    join = NewItem(ItemKind.DISCOVERY, "step", NOW, after_join=True)
    await store.complete(
        branch,
        Outcome(
            attempt=attempt("01RUNJ", branch.item.id),
            memos=(Memo("b1", {"data": 1}, "b1", "StepRun"),),
            enqueue=(join,),
        ),
        NOW,
        DAY,
    )
    [discovery] = await store.claim(NOW, 10, NOW + 30, "w")
    assert discovery.item.kind is ItemKind.DISCOVERY and discovery.item.run_id == "01RUNJ"


async def test_a_parallel_branch_does_not_discover_while_an_invoke_of_the_group_waits(
    store: Store,
) -> None:
    from inlet.model import Listener

    ev = event(30)
    await store.ingest([ev], [NewRun("01RUNI", "app-fn", (ev.internal_id,), "ki", NOW)], NOW, DAY)
    [first] = await store.claim(NOW, 10, NOW + 30, "w")
    invoke = Listener(
        id="01RUNI:i",
        run_id="01RUNI",
        kind=ListenerKind.INVOKE,
        event="inngest/function.finished",
        expires_at=NOW + 600,
        step_id="i",
    )
    await store.complete(
        first,
        Outcome(
            attempt=attempt("01RUNI", first.item.id),
            listeners=(invoke,),
            enqueue=(
                NewItem(ItemKind.STEP, "b1", NOW),
                NewItem(ItemKind.TIMER, "i", NOW + 600, payload={"memo": None}),
            ),
        ),
        NOW,
        DAY,
    )
    [branch] = await store.claim(NOW, 10, NOW + 30, "w")
    join = NewItem(ItemKind.DISCOVERY, "step", NOW, after_join=True)
    await store.complete(
        branch,
        Outcome(
            attempt=attempt("01RUNI", branch.item.id),
            memos=(Memo("b1", {"data": 1}, "b1", "StepRun"),),
            enqueue=(join,),
        ),
        NOW,
        DAY,
    )
    assert await store.claim(NOW, 10, NOW + 30, "w") == []
    await store.ingest([], [], NOW, DAY, [Resume("01RUNI:i", "01RUNI", "i", {"data": 2})])
    [discovery] = await store.claim(NOW, 10, NOW + 30, "w")
    assert discovery.item.kind is ItemKind.DISCOVERY


async def test_due_timers_are_claimed_first_and_beyond_the_call_limit(store: Store) -> None:
    # Two runs wait (each with a timer due at NOW + 60); three more runs have discoveries
    # that have been due since NOW, ahead of the timers by rank.
    waiting = [await waiting_run(store, n) for n in (1, 2)]
    for n in (3, 4, 5):
        ev = event(n)
        await store.ingest(
            [ev], [NewRun(f"01RUN{n:021d}", "app-fn", (ev.internal_id,), f"k{n}", NOW)], NOW, DAY
        )
    claims = await store.claim(NOW + 60, 1, NOW + 90, "w", timers=10)
    kinds = [(c.item.kind, c.item.run_id) for c in claims]
    assert sorted(kinds[:2]) == [(ItemKind.TIMER, run_id) for run_id in waiting]
    assert [k for k, _ in kinds[2:]] == [ItemKind.DISCOVERY]
    # With no call slot free, timers are still claimed and calls are not.
    assert await store.claim(NOW + 60, 0, NOW + 90, "w", timers=10) == []
