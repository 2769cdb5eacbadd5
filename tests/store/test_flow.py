"""The store contract for flow control: gates applied when runs are made and claimed."""

from __future__ import annotations

from dataclasses import replace

from inlet.model import (
    Attempt,
    Buffer,
    Event,
    ItemKind,
    NewRun,
    Outcome,
    Rate,
    RunFlow,
    RunStatus,
)
from inlet.store import Store
from inlet.store.base import Claim

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


async def start(
    store: Store, n: int, flow: RunFlow, at: float | None = None, fn: str = "app-fn"
) -> tuple[Event, bool]:
    # Runs made in the same millisecond have no order; a millisecond apart, they queue
    # in the order they came.
    at = NOW - 1 + n / 1000 if at is None else at
    ev = event(n)
    run = NewRun(
        id=f"01RUN{n:021d}",
        function_slug=fn,
        event_ids=(ev.internal_id,),
        key=f"event:{ev.id}",
        due_at=at,
        flow=flow,
    )
    result = await store.ingest([ev], [run], at, DAY)
    return ev, bool(result.run_ids)


def finish(claim: Claim) -> Outcome:
    return Outcome(
        attempt=Attempt(
            run_id=claim.item.run_id,
            item_id=claim.item.id,
            step_id="step",
            attempt=0,
            started_at=NOW,
            ended_at=NOW,
            outcome="step",
        )
    )


async def test_a_concurrency_key_at_its_limit_holds_further_calls_back(store: Store) -> None:
    one = RunFlow(concurrency=(("fn:app-fn", 1),))
    await start(store, 1, one)
    await start(store, 2, one)
    first = await store.claim(NOW, 10, NOW + 30, "w")
    assert [c.item.run_id for c in first] == ["01RUN000000000000000000001"]
    assert await store.claim(NOW + 1, 10, NOW + 31, "w") == []
    assert await store.complete(first[0], finish(first[0]), NOW + 2, DAY)
    second = await store.claim(NOW + 2, 10, NOW + 32, "w")
    assert [c.item.run_id for c in second] == ["01RUN000000000000000000002"]


async def test_different_keys_run_side_by_side(store: Store) -> None:
    await start(store, 1, RunFlow(concurrency=(("k:a", 1),)))
    await start(store, 2, RunFlow(concurrency=(("k:a", 1),)))
    await start(store, 3, RunFlow(concurrency=(("k:b", 1),)))
    claimed = await store.claim(NOW, 10, NOW + 30, "w")
    assert sorted(c.item.run_id[-1] for c in claimed) == ["1", "3"]


async def test_a_lost_concurrency_slot_comes_back_when_the_run_ends(store: Store) -> None:
    one = RunFlow(concurrency=(("k", 1),))
    await start(store, 1, one)
    await start(store, 2, one)
    [claim] = await store.claim(NOW, 10, NOW + 30, "w")
    await store.claim(NOW, 10, NOW + 30, "w")
    from inlet.model import Finish

    done = Outcome(attempt=finish(claim).attempt, finish=Finish(RunStatus.COMPLETED))
    await store.complete(claim, done, NOW + 1, DAY)
    assert [c.item.run_id[-1] for c in await store.claim(NOW + 1, 10, NOW + 31, "w")] == ["2"]


async def test_a_higher_priority_run_is_claimed_first(store: Store) -> None:
    await start(store, 1, RunFlow(priority=0.0))
    await start(store, 2, RunFlow(priority=120.0))
    claimed = await store.claim(NOW, 1, NOW + 30, "w")
    assert claimed[0].item.run_id.endswith("2")


async def test_a_rate_limit_skips_runs_over_the_limit_and_says_why(store: Store) -> None:
    # Go's GCRA: 2 per minute is one every 30 s (burst limit // 10 = 0).
    limit = RunFlow(rate_limit=Rate("k", limit=2, period=60.0))
    results = [await start(store, n, limit, at=NOW + t) for n, t in ((1, 0), (2, 30), (3, 40))]
    assert [made for _, made in results] == [True, True, False]
    [skip] = await store.skips(results[2][0].internal_id)
    assert skip.function_slug == "app-fn" and "rate" in skip.reason.lower()
    assert await store.skips(results[0][0].internal_id) == []


async def test_a_throttle_delays_a_run_instead_of_dropping_it(store: Store) -> None:
    throttle = RunFlow(throttle=Rate("k", limit=1, period=10.0, burst=0))
    await start(store, 1, throttle)
    _, made = await start(store, 2, throttle)
    assert made
    claimed = await store.claim(NOW, 10, NOW + 30, "w")
    assert [c.item.run_id[-1] for c in claimed] == ["1"]
    later = await store.claim(NOW + 9.1, 10, NOW + 40, "w")
    assert [c.item.run_id[-1] for c in later] == ["2"]


async def test_an_idempotency_key_starts_one_run_a_day(store: Store) -> None:
    idem = RunFlow(idempotency="order-1")
    assert (await start(store, 1, idem))[1]
    ev, made = await start(store, 2, idem)
    assert not made and "idempotency" in (await store.skips(ev.internal_id))[0].reason


async def test_debounce_keeps_one_pending_run_with_the_last_event(store: Store) -> None:
    debounce = RunFlow(debounce=Buffer("k", period=5.0, timeout=12.0))
    first, made = await start(store, 1, debounce)
    second, _ = await start(store, 2, debounce, at=NOW + 3)
    assert made
    assert await store.claim(NOW + 7, 10, NOW + 37, "w") == []
    [claim] = await store.claim(NOW + 8, 10, NOW + 38, "w")
    assert claim.state is not None and claim.state.events == (second,)
    assert "debounced" in (await store.skips(first.internal_id))[0].reason
    assert await store.runs_for_event(first.internal_id) == []


async def test_debounce_never_waits_past_its_timeout(store: Store) -> None:
    debounce = RunFlow(debounce=Buffer("k", period=5.0, timeout=6.0))
    await start(store, 1, debounce)
    await start(store, 2, debounce, at=NOW + 4)
    assert len(await store.claim(NOW + 6, 10, NOW + 36, "w")) == 1


async def test_a_batch_starts_when_full_with_every_event_in_order(store: Store) -> None:
    batch = RunFlow(batch=Buffer("k", timeout=10.0, max_size=3))
    events = [(await start(store, n, batch))[0] for n in range(1, 4)]
    [claim] = await store.claim(NOW, 10, NOW + 30, "w")
    assert claim.state is not None and claim.state.events == tuple(events)
    _, made = await start(store, 4, batch)
    assert made


async def test_a_batch_that_does_not_fill_starts_at_its_timeout(store: Store) -> None:
    batch = RunFlow(batch=Buffer("k", timeout=10.0, max_size=3))
    await start(store, 1, batch)
    await start(store, 2, batch, at=NOW + 1)
    assert await store.claim(NOW + 9, 10, NOW + 39, "w") == []
    [claim] = await store.claim(NOW + 10, 10, NOW + 40, "w")
    assert claim.state is not None and len(claim.state.events) == 2


async def test_debounce_keeps_the_newer_event_when_an_older_one_arrives_late(
    store: Store,
) -> None:
    debounce = RunFlow(debounce=Buffer("k", period=5.0, timeout=12.0))
    newer, made = await start(store, 1, debounce)
    older = replace(event(2), ts=newer.ts - 60_000)
    late = NewRun(
        id="01RUN000000000000000000002",
        function_slug="app-fn",
        event_ids=(older.internal_id,),
        key=f"event:{older.id}",
        due_at=NOW + 3,
        flow=debounce,
    )
    result = await store.ingest([older], [late], NOW + 3, DAY)
    assert made and result.run_ids == ()
    [claim] = await store.claim(NOW + 8, 10, NOW + 38, "w")
    assert claim.state is not None and claim.state.events == (newer,)
    assert "newer" in (await store.skips(older.internal_id))[0].reason
    assert await store.runs_for_event(older.internal_id) == []


async def test_a_batch_of_more_than_10_mib_starts_early_and_the_next_event_opens_another(
    store: Store,
) -> None:
    batch = RunFlow(batch=Buffer("k", timeout=60.0, max_size=100))
    big = "x" * (4 * 1024 * 1024)
    events = []
    for n in range(1, 5):
        ev = replace(event(n), data={"blob": big})
        run = NewRun(
            id=f"01RUN{n:021d}",
            function_slug="app-fn",
            event_ids=(ev.internal_id,),
            key=f"event:{ev.id}",
            due_at=NOW,
            flow=batch,
        )
        result = await store.ingest([ev], [run], NOW + n / 1000, DAY)
        events.append((ev, bool(result.run_ids)))
    assert [made for _, made in events] == [True, False, False, True]
    [claim] = await store.claim(NOW + 1, 10, NOW + 31, "w")
    assert claim.state is not None
    assert claim.state.events == tuple(ev for ev, _ in events[:3])


async def test_an_event_already_in_a_batch_joins_it_once(store: Store) -> None:
    batch = RunFlow(batch=Buffer("k", timeout=10.0, max_size=3))
    first, _ = await start(store, 1, batch)
    again, made_again = await start(store, 1, batch)
    # The same event carried by another run request (another key) adds nothing either.
    other_key = NewRun(
        id="01RUN000000000000000000009",
        function_slug="app-fn",
        event_ids=(first.internal_id,),
        key="event:another",
        due_at=NOW,
        flow=batch,
    )
    assert (await store.ingest([first], [other_key], NOW, DAY)).run_ids == ()
    second, _ = await start(store, 2, batch)
    assert again == first and not made_again
    assert await store.claim(NOW + 9, 10, NOW + 39, "w") == []
    [claim] = await store.claim(NOW + 10, 10, NOW + 40, "w")
    assert claim.state is not None and claim.state.events == (first, second)


async def test_singleton_skip_drops_runs_while_one_is_active(store: Store) -> None:
    single = RunFlow(singleton="user-1", singleton_mode="skip")
    await start(store, 1, single)
    ev, made = await start(store, 2, single)
    assert not made and "singleton" in (await store.skips(ev.internal_id))[0].reason
    assert (await start(store, 3, RunFlow(singleton="user-2")))[1]


async def test_singleton_cancel_replaces_the_active_run(store: Store) -> None:
    single = RunFlow(singleton="user-1", singleton_mode="cancel")
    await start(store, 1, single)
    _, made = await start(store, 2, single)
    assert made
    old = await store.get_run("01RUN000000000000000000001")
    assert old is not None and old.status is RunStatus.CANCELLED
    claimed = await store.claim(NOW, 10, NOW + 30, "w")
    assert [c.item.run_id[-1] for c in claimed] == ["2"]


async def test_timers_do_not_count_against_concurrency(store: Store) -> None:
    from inlet.model import NewItem

    one = RunFlow(concurrency=(("k", 1),))
    await start(store, 1, one)
    [claim] = await store.claim(NOW, 10, NOW + 30, "w")
    sleep = Outcome(
        attempt=finish(claim).attempt,
        enqueue=(NewItem(ItemKind.TIMER, "s", NOW + 60, payload={"memo": None}),),
    )
    await store.complete(claim, sleep, NOW, DAY)
    await start(store, 2, one)
    assert [c.item.run_id[-1] for c in await store.claim(NOW + 1, 10, NOW + 31, "w")] == ["2"]


async def test_release_all_frees_slots_and_unparks_held_items(store: Store) -> None:
    one = RunFlow(concurrency=(("k", 1),))
    await start(store, 1, one)
    await start(store, 2, one)
    await store.claim(NOW, 10, NOW + 30, "dead")
    await store.claim(NOW, 10, NOW + 30, "dead")
    await store.release_all()
    if store.shared:
        # Not released (another process may hold the lease): its expiry frees the slot.
        assert await store.claim(NOW + 1, 10, NOW + 31, "w") == []
        assert len(await store.claim(NOW + 31, 10, NOW + 61, "w")) == 1
        return
    assert len(await store.claim(NOW + 1, 10, NOW + 31, "w")) == 1


async def test_an_expired_lease_frees_its_concurrency_slot(store: Store) -> None:
    one = RunFlow(concurrency=(("k", 1),))
    await start(store, 1, one)
    await start(store, 2, one)
    [held] = await store.claim(NOW, 10, NOW + 30, "dead")
    assert await store.claim(NOW + 1, 10, NOW + 31, "w") == []
    [again] = await store.claim(NOW + 31, 10, NOW + 61, "w")
    assert again.item.id == held.item.id


async def test_an_invoke_of_a_rate_limited_function_fails_the_invoking_step(
    store: Store,
) -> None:
    from inlet.model import Listener, ListenerKind

    limit = RunFlow(rate_limit=Rate("k", limit=1, period=60.0))
    await start(store, 1, limit)
    parent_event = event(50)
    waiting = Listener(
        id="01PARENT:s",
        run_id="01PARENT",
        kind=ListenerKind.INVOKE,
        event="inngest/function.finished",
        expires_at=NOW + 60,
        step_id="s",
    )
    await store.ingest(
        [parent_event],
        [
            NewRun(
                "01PARENT",
                "app-parent",
                (parent_event.internal_id,),
                "p",
                NOW,
                listeners=(waiting,),
            )
        ],
        NOW,
        DAY,
    )
    invoked = Event(
        internal_id="01INVOKED00000000000000000",
        name="inngest/function.invoked",
        data={"_inngest": {"fn_id": "app-fn", "correlation_id": "01PARENT.s"}},
        id="01INVOKED00000000000000000",
        ts=int(NOW * 1000),
        received_at=NOW,
    )
    run = NewRun("01CHILD", "app-fn", (invoked.internal_id,), "event:child", NOW + 1, flow=limit)
    result = await store.ingest([invoked], [run], NOW + 1, DAY)
    assert result.run_ids == ()
    state = await store.run_state("01PARENT")
    assert state is not None
    [memo] = state.memos
    assert memo.step_id == "s" and memo.value["error"]["name"] == "InngestInvokeSkipped"
    assert "rate limited" in memo.value["error"]["message"]
