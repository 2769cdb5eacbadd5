"""``MemoryStore``'s wait counts (``inlet.store.waiting.WaitReads``) over its rows."""

from __future__ import annotations

from collections import Counter

from inlet.model import ItemKind, ListenerKind
from inlet.store.memory_rows import Rows
from inlet.store.stalls import RUN_TIMEOUT_STEP
from inlet.store.waiting import WaitCount, WaitKind

KINDS: dict[ListenerKind, WaitKind] = {ListenerKind.WAIT: "event", ListenerKind.INVOKE: "invoke"}


class MemoryWaiting:
    """Mixed into ``MemoryStore``, which sets ``_rows``."""

    _rows: Rows

    async def wait_counts(self) -> list[WaitCount]:
        counts: Counter[tuple[str, WaitKind]] = Counter()
        listening = set()
        for listener in self._rows.listeners.values():
            kind = KINDS.get(listener.kind)
            row = self._rows.runs.get(listener.run_id)
            if kind is None or row is None:
                continue
            listening.add((listener.run_id, listener.step_id))
            counts[row.run.function_slug, kind] += 1
        for slot in self._rows.queue.values():
            item = slot.item
            row = self._rows.runs.get(item.run_id)
            if (
                item.kind is not ItemKind.TIMER
                or row is None
                or item.step_id.startswith(RUN_TIMEOUT_STEP)
                or (item.run_id, item.step_id) in listening
            ):
                continue
            counts[row.run.function_slug, "sleep"] += 1
        return [WaitCount(slug, kind, n) for (slug, kind), n in sorted(counts.items())]
