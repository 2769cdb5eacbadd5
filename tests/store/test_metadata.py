"""The store contract for run metadata (``POST /v1/runs/{id}/metadata``): updates apply in
order, a set replaces and a merge extends one (step, kind), an unknown run changes nothing,
and the metadata goes with its run when retention purges it."""

from __future__ import annotations

import pytest

from inlet.store import Store
from inlet.store.metadata import MetadataUpdate, apply

from .test_contract import DAY, NOW, event, new_run
from .test_retention import finished, purge_all


def test_a_set_replaces_and_a_merge_extends() -> None:
    assert apply(None, MetadataUpdate("k", "merge", {"a": 1})) == {"a": 1}
    assert apply({"a": 1, "b": 2}, MetadataUpdate("k", "merge", {"b": 3})) == {"a": 1, "b": 3}
    assert apply({"a": 1, "b": 2}, MetadataUpdate("k", "set", {"c": 4})) == {"c": 4}


async def test_updates_apply_in_order_per_step_and_kind(store: Store) -> None:
    ev = event(1)
    run = new_run(1, ev)
    await store.ingest([ev], [run], NOW, DAY)
    assert await store.update_metadata(
        run.id,
        [
            MetadataUpdate("inngest.score", "merge", {"accuracy": {"value": 0.5}}),
            MetadataUpdate("inngest.score", "merge", {"latency": {"value": 3}}),
            MetadataUpdate("userland.default", "set", {"status": "loading"}, step_id="s1"),
        ],
        NOW + 1,
    )
    assert await store.update_metadata(
        run.id,
        [
            MetadataUpdate("inngest.score", "merge", {"accuracy": {"value": 0.9}}),
            MetadataUpdate("userland.default", "set", {"status": "done"}, step_id="s1"),
        ],
        NOW + 2,
    )
    rows = await store.run_metadata(run.id)
    assert [(m.step_id, m.kind, dict(m.values), m.updated_at) for m in rows] == [
        ("", "inngest.score", {"accuracy": {"value": 0.9}, "latency": {"value": 3}}, NOW + 2),
        ("s1", "userland.default", {"status": "done"}, NOW + 2),
    ]


async def test_an_unknown_run_changes_nothing(store: Store) -> None:
    update = MetadataUpdate("inngest.score", "set", {"x": {"value": 1}})
    assert not await store.update_metadata("01NOSUCHRUN0000000000000000", [update], NOW)
    assert await store.run_metadata("01NOSUCHRUN0000000000000000") == []


@pytest.mark.parametrize("kept", [False, True])
async def test_retention_purges_a_runs_metadata_with_it(store: Store, kept: bool) -> None:
    rid = await finished(store, 1, NOW + 10)
    await store.update_metadata(rid, [MetadataUpdate("k", "set", {"a": 1})], NOW + 11)
    await purge_all(store, NOW if kept else NOW + 100)
    assert len(await store.run_metadata(rid)) == (1 if kept else 0)
