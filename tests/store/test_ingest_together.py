"""Runs without flow gates are admitted together (one write per table on PostgreSQL); the
outcome must be the same as one at a time: paused functions, taken keys and keys shared
within a batch are each recorded as a skip, in the batch's order."""

from __future__ import annotations

from dataclasses import replace

from inlet.model import ItemKind
from inlet.store.base import Store
from inlet.store.operations import PAUSED

from .test_contract import DAY, NOW, event, new_run


async def test_a_batch_of_plain_runs_creates_each_whose_key_is_free(store: Store) -> None:
    events = [event(n) for n in range(1, 7)]
    taken = new_run(90, events[0])
    await store.ingest([events[0]], [taken], NOW, DAY)
    await store.set_paused("paused-fn", NOW)
    runs = [
        new_run(1, events[0]),  # its key is taken by run 90
        new_run(2, events[1]),
        replace(new_run(3, events[2]), key="shared"),
        replace(new_run(4, events[3]), key="shared"),  # the batch's earlier run holds it
        new_run(5, events[4], fn="paused-fn"),
        new_run(6, events[5]),
    ]
    result = await store.ingest(events, runs, NOW, DAY)
    assert result.run_ids == (runs[1].id, runs[2].id, runs[5].id)
    assert [s.reason for s in await store.skips(events[0].internal_id)] == []  # not news
    (shared,) = await store.skips(events[3].internal_id)
    assert runs[2].id in shared.reason
    (paused,) = await store.skips(events[4].internal_id)
    assert paused.reason == PAUSED
    claims = await store.claim(NOW, 10, NOW + 30, "w")
    assert sorted(c.item.run_id for c in claims) == sorted([taken.id, *result.run_ids])
    assert {c.item.kind for c in claims} == {ItemKind.DISCOVERY}
    for claim in claims:
        assert claim.state is not None and claim.state.run.id == claim.item.run_id
        assert [e.internal_id for e in claim.state.events] == list(claim.state.run.event_ids)
