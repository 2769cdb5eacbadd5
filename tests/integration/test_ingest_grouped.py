"""Concurrent event requests are applied together: one store call for those that arrive
while another is applied, each request still answered with its own ids and runs."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import orjson

from inlet.clock import FakeClock
from inlet.config import Settings
from inlet.errors import StoreError
from inlet.events.ingest import Accepted, Ingestor
from inlet.ids import ulid_from_seed
from inlet.model import Event, Function, Trigger
from inlet.runs.apply import Applier
from inlet.runs.registry import Registry
from inlet.runs.router import Router
from inlet.store import IngestResult
from inlet.store.memory import MemoryStore

APP = "http://app.test/api/inngest"
SEED = "1743130137367,eii2YKXRVTJPuA=="


class GatedStore(MemoryStore):
    """Holds its first ingest until released, so that others queue up behind it; counts
    the ingest calls and fails any that holds an event called ``app/bad``."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[list[str]] = []
        self.gate = asyncio.Event()
        self.called = asyncio.Event()

    async def ingest(self, events: Sequence[Event], *args: Any, **kwargs: Any) -> IngestResult:
        self.calls.append([e.internal_id for e in events])
        self.called.set()
        if len(self.calls) == 1:
            await self.gate.wait()
        if any(e.name == "app/bad" for e in events):
            raise StoreError("app/bad cannot be stored")
        return await super().ingest(events, *args, **kwargs)


def ingestor(store: MemoryStore) -> Ingestor:
    fn = Function("fn", APP, "fn", f"{APP}?fnId=fn", (Trigger(event="app/a"),), config={})
    registry = Registry((fn,))
    applier = Applier(store, Router(store, lambda: registry), 60, lambda: None)
    return Ingestor(Settings(), FakeClock(), applier)


def body(name: str, **data: Any) -> bytes:
    return orjson.dumps({"name": name, "data": data})


async def started(ingest: Ingestor, *bodies: bytes, seeds: Sequence[str | None] = ()) -> list[Any]:
    """Send the first body, then the others while it is held; every outcome."""
    store = ingest._applier._store
    assert isinstance(store, GatedStore)
    seeds = list(seeds) or [None] * len(bodies)
    first = asyncio.create_task(ingest.accept(bodies[0], seeds[0]))
    await store.called.wait()
    pairs = zip(bodies[1:], seeds[1:], strict=True)
    rest = [asyncio.create_task(ingest.accept(b, s)) for b, s in pairs]
    for _ in range(5):
        await asyncio.sleep(0)
    store.gate.set()
    return await asyncio.gather(first, *rest, return_exceptions=True)


async def test_requests_that_arrive_while_one_is_applied_are_stored_in_one_store_call() -> None:
    store = GatedStore()
    outcomes = await started(ingestor(store), *(body("app/a", n=n) for n in range(6)))
    assert len(store.calls) == 2
    assert len(store.calls[1]) == 5
    assert all(isinstance(o, Accepted) and o.runs == 1 and len(o.ids) == 1 for o in outcomes)
    ids = [o.ids[0] for o in outcomes]
    assert len(set(ids)) == 6
    for event_id in ids:  # each request's run is its own event's
        runs = await store.runs_for_event(event_id)
        assert len(runs) == 1


async def test_an_unloaded_request_is_applied_at_once_alone() -> None:
    store = GatedStore()
    store.gate.set()
    accepted = await ingestor(store).accept(body("app/a"), None)
    assert accepted.runs == 1
    assert store.calls == [list(accepted.ids)]


async def test_the_same_event_in_two_grouped_requests_starts_one_run_for_the_first() -> None:
    store = GatedStore()
    sent = [body("app/a", n=0), body("app/a", n=1), body("app/a", n=1)]
    outcomes = await started(ingestor(store), *sent, seeds=[None, SEED, SEED])
    second, third = outcomes[1], outcomes[2]
    assert isinstance(second, Accepted) and isinstance(third, Accepted)
    assert second.ids == third.ids == (ulid_from_seed(SEED, 1),)
    assert (second.runs, third.runs) == (1, 0)
    assert len(await store.runs_for_event(second.ids[0])) == 1


async def test_a_grouped_apply_that_fails_is_retried_per_request_and_only_the_bad_fails() -> None:
    store = GatedStore()
    sent = [body("app/a"), body("app/a", n=1), body("app/bad"), body("app/a", n=2)]
    outcomes = await started(ingestor(store), *sent)
    assert isinstance(outcomes[2], StoreError)
    assert [o.runs for o in (outcomes[0], outcomes[1], outcomes[3])] == [1, 1, 1]
    # the group of three failed together, then each went alone
    assert [len(c) for c in store.calls] == [1, 3, 1, 1, 1]


async def until_calls(store: GatedStore, count: int) -> None:
    for _ in range(200):
        if len(store.calls) >= count:
            return
        await asyncio.sleep(0)
    raise AssertionError(f"{len(store.calls)} ingest calls, expected {count}")


async def test_the_next_group_is_routed_and_sent_while_the_one_before_is_stored() -> None:
    store = GatedStore()
    ingest = ingestor(store)
    first = asyncio.create_task(ingest.accept(body("app/a", n=0), None))
    await store.called.wait()
    second = [asyncio.create_task(ingest.accept(body("app/a", n=n), None)) for n in (1, 2)]
    # The first is still being stored; the group after it reaches the store all the same.
    await until_calls(store, 2)
    assert not first.done() and [len(c) for c in store.calls] == [1, 2]
    # A third group waits for the first to be stored: two groups in flight at most.
    third = asyncio.create_task(ingest.accept(body("app/a", n=3), None))
    for _ in range(20):
        await asyncio.sleep(0)
    assert len(store.calls) == 2
    store.gate.set()
    outcomes = await asyncio.gather(first, *second, third)
    assert [len(c) for c in store.calls] == [1, 2, 1]
    assert all(o.runs == 1 for o in outcomes)
