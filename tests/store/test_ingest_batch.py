"""One ingest of many events for many functions (the event API applies concurrent requests
together): every skip is stored, a paused function's runs are skipped and the others'
created, on every store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from inlet.model import SkipSet
from inlet.store import Store
from inlet.store.operations import PAUSED
from inlet.store.relational import RelationalStore

from .conftest import sql_store
from .test_contract import DAY, NOW, event, new_run


async def test_one_ingest_stores_the_skips_of_every_fresh_event_and_none_of_a_repeat(
    store: Store,
) -> None:
    events = [event(n) for n in range(1, 6)]
    ids = tuple(ev.internal_id for ev in events)
    skips = [
        SkipSet(f"fn-{k}", f"the trigger's expression was not true: {k}", ids) for k in range(3)
    ]
    await store.ingest(events[:1], [], NOW, DAY)  # event 1 is a repeat below
    result = await store.ingest(events, [], NOW, DAY, skips=skips)
    assert result.new_event_ids == tuple(ev.internal_id for ev in events[1:])
    assert await store.skips(events[0].internal_id) == []
    for ev in events[1:]:
        found = sorted(await store.skips(ev.internal_id), key=lambda s: s.function_slug)
        assert [(s.function_slug, s.reason) for s in found] == [
            (f"fn-{k}", f"the trigger's expression was not true: {k}") for k in range(3)
        ]


async def test_one_ingest_skips_the_runs_of_a_paused_function_and_creates_the_others(
    store: Store,
) -> None:
    await store.set_paused("fn-paused", NOW - 1)
    events = [event(n) for n in range(1, 5)]
    runs = [
        replace(new_run(n, ev), function_slug="fn-paused" if n % 2 else f"fn-{n}")
        for n, ev in enumerate(events, start=1)
    ]
    result = await store.ingest(events, runs, NOW, DAY)
    assert result.run_ids == (runs[1].id, runs[3].id)
    for run in (runs[0], runs[2]):
        assert [s.reason for s in await store.skips(run.event_ids[0])] == [PAUSED]
        assert await store.get_run(run.id) is None
    for run in (runs[1], runs[3]):
        found = await store.get_run(run.id)
        assert found is not None and found.function_slug == run.function_slug


@pytest.fixture(params=["sqlite", "postgres"])
async def sql(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[RelationalStore]:
    backend = sql_store(request.param, request, tmp_path)
    await backend.open()
    try:
        yield backend
    finally:
        await backend.close()


async def test_the_claim_of_a_run_finds_the_event_its_ingest_stored_without_reading_it(
    sql: RelationalStore,
) -> None:
    store = sql
    ev = event(1)
    await store.ingest([ev], [new_run(1, ev)], NOW, DAY)
    # The event row goes: only the cache the ingest filled can still answer the claim.
    db = store._conn

    def drop() -> None:
        db.execute("DELETE FROM events WHERE internal_id = ?", (ev.internal_id,))

    await store._write(drop)
    [claim] = await store.claim(NOW, 10, NOW + 60, "test")
    assert claim.state is not None
    assert claim.state.events == (ev,)
