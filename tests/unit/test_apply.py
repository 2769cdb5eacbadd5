"""The one place events are applied: routed, stored in one transaction, the worker woken."""

from __future__ import annotations

from inlet.model import Attempt, Event, Finish, Function, Outcome, RunStatus, Trigger
from inlet.runs.apply import Applier
from inlet.runs.registry import Registry
from inlet.runs.router import Router
from inlet.store.memory import MemoryStore

NOW = 1_800_000_000.0
ORDER = Event(internal_id="E1", name="app/order", data={"id": 7}, id="order-7", ts=1)


def fn(slug: str, event: str) -> Function:
    return Function(
        slug=slug,
        app_url="http://a",
        name=slug,
        url="http://a",
        triggers=(Trigger(event=event),),
    )


class Wakes:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


def applier(store: MemoryStore, *functions: Function) -> tuple[Applier, Wakes]:
    registry = Registry(functions)
    wakes = Wakes()
    return Applier(store, Router(store, lambda: registry), 60, wakes), wakes


async def test_an_event_that_starts_a_run_is_stored_with_it_and_wakes_the_worker() -> None:
    store = MemoryStore()
    apply, wakes = applier(store, fn("app-fn", "app/order"))
    result = await apply.apply([ORDER], NOW)
    [run] = await store.list_runs("app-fn", active=True)
    assert result.run_ids == (run.id,) and result.new_event_ids == ("E1",)
    assert wakes.count == 1


async def test_an_event_seen_again_makes_nothing_and_wakes_nobody() -> None:
    store = MemoryStore()
    apply, wakes = applier(store, fn("app-fn", "app/order"))
    await apply.apply([ORDER], NOW)
    again = await apply.apply([ORDER], NOW + 1)
    assert again.run_ids == () and wakes.count == 1
    assert len(await store.list_runs("app-fn", active=True)) == 1


async def test_runs_the_caller_planned_are_stored_with_those_the_events_start() -> None:
    store = MemoryStore()
    registry = Registry([fn("app-a", "app/order"), fn("app-b", "app/other")])
    apply = Applier(store, Router(store, lambda: registry), 60, Wakes())
    planned = registry.plan_cron(registry.functions["app-b"], ORDER, "cron:app-b:1", NOW, NOW)
    result = await apply.apply([ORDER], NOW, runs=[planned])
    assert len(result.run_ids) == 2 and planned.id in result.run_ids


async def test_cancelling_a_run_says_whether_this_call_cancelled_it() -> None:
    store = MemoryStore()
    apply, wakes = applier(store, fn("app-fn", "app/order"))
    [run_id] = (await apply.apply([ORDER], NOW)).run_ids
    assert await apply.cancel(run_id, "not needed", NOW)
    run = await store.get_run(run_id)
    assert run is not None and run.status is RunStatus.CANCELLED
    assert wakes.count == 2
    assert not await apply.cancel(run_id, "again", NOW)
    assert not await apply.cancel("no-such-run", "gone", NOW)


async def test_a_cancelled_run_emits_its_system_events_which_start_their_listeners() -> None:
    store = MemoryStore()
    apply, _ = applier(
        store, fn("app-fn", "app/order"), fn("app-audit", "inngest/function.cancelled")
    )
    [run_id] = (await apply.apply([ORDER], NOW)).run_ids
    await apply.cancel(run_id, "not needed", NOW)
    assert len(await store.list_runs("app-audit", active=True)) == 1


async def test_a_call_that_finishes_its_run_applies_the_finished_event_with_it() -> None:
    store = MemoryStore()
    apply, wakes = applier(
        store, fn("app-fn", "app/order"), fn("app-after", "inngest/function.finished")
    )
    await apply.apply([ORDER], NOW)
    [claim] = await store.claim(NOW, 1, NOW + 30, "w")
    done = Outcome(
        attempt=Attempt.of(claim.item, NOW, "completed"),
        finish=Finish(RunStatus.COMPLETED, output={"ok": True}),
    )
    assert await apply.complete(claim, done, NOW)
    run = await store.get_run(claim.item.run_id)
    assert run is not None and run.status is RunStatus.COMPLETED
    assert len(await store.list_runs("app-after", active=True)) == 1
    assert wakes.count == 2


async def test_an_outcome_whose_lease_was_lost_changes_nothing() -> None:
    store = MemoryStore()
    apply, wakes = applier(store, fn("app-fn", "app/order"))
    await apply.apply([ORDER], NOW)
    [claim] = await store.claim(NOW, 1, NOW + 30, "w")
    await store.release_all()
    done = Outcome(
        attempt=Attempt.of(claim.item, NOW, "completed"),
        finish=Finish(RunStatus.COMPLETED, output=None),
    )
    assert not await apply.complete(claim, done, NOW)
    run = await store.get_run(claim.item.run_id)
    assert run is not None and run.status is not RunStatus.COMPLETED
    assert wakes.count == 1
