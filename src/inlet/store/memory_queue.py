"""The queue half of the memory store's transaction port: due items, leases and slots."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from inlet.model import ItemKind
from inlet.store.engine import queue
from inlet.store.engine.tx import Due, Lease
from inlet.store.memory_rows import Rows


class MemoryQueueTx:
    __slots__ = ()
    rows: Rows

    def due_timers(self, now: float, limit: int) -> list[Due]:
        slots = [
            s
            for s in self.rows.queue.values()
            if s.item.kind is ItemKind.TIMER and s.item.due_at <= now
        ]
        slots.sort(key=lambda s: (s.item.due_at, s.item.id))
        return [Due(s.item, s.keys) for s in slots[:limit]]

    def due_items(self, now: float, limit: int) -> list[Due]:
        slots = [s for s in self.rows.queue.values() if s.item.due_at <= now]
        slots.sort(key=lambda s: (s.rank, s.item.id))
        return [Due(s.item, s.keys) for s in slots[:limit]]

    def in_flight(self, keys: Sequence[str], now: float) -> Mapping[str, int]:
        wanted = set(keys)
        counts: dict[str, int] = {}
        for item_id, held in self.rows.inflight.items():
            slot = self.rows.queue.get(item_id)
            if slot is None or slot.lease is None or slot.item.due_at <= now:
                continue  # an expired lease holds no slot: its item is due again
            for key, _ in held:
                if key in wanted:
                    counts[key] = counts.get(key, 0) + 1
        return counts

    def park(self, item_id: str, key: str) -> None:
        slot = self.rows.queue[item_id]
        slot.parked = key
        slot.rank = queue.PARKED
        slot.item = replace(slot.item, due_at=queue.PARKED)

    def lease(self, leases: Sequence[Lease]) -> None:
        for item_id, lease, until, keys in leases:
            slot = self.rows.queue[item_id]
            slot.lease = lease
            slot.item = replace(slot.item, due_at=until)
            slot.rank = until
            if keys:
                self.rows.inflight[item_id] = keys

    def note_due(self, due: float, now: float) -> None:
        pass

    def lease_if_first(
        self, item_id: str, lease: str, until: float, now: float
    ) -> Callable[[], bool]:
        first = self.due_items(now, 1)
        taken = bool(first) and first[0].item.id == item_id and not first[0].keys
        if taken:
            self.lease([(item_id, lease, until, ())])
        return lambda: taken
