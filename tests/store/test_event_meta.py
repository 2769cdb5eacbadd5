"""Every store keeps an event's ``meta`` as sent, and none for an event without it."""

from __future__ import annotations

import dataclasses

from inlet.store import Store

from .test_contract import DAY, NOW, event, new_run


async def test_an_events_meta_is_read_back_as_stored(store: Store) -> None:
    meta = {"propagated_sessions": [{"id": "s-1", "key": "user-7"}]}
    with_meta = dataclasses.replace(event(1), meta=meta)
    plain = event(2)
    await store.ingest([with_meta, plain], [new_run(1, with_meta)], NOW, DAY)
    read = await store.get_event(with_meta.internal_id)
    assert read is not None and read.meta == meta
    other = await store.get_event(plain.internal_id)
    assert other is not None and other.meta is None
