"""Invoking a function now, as Inngest's dev server's "Invoke" button does: an
``inngest/function.invoked`` event whose ``data._inngest.fn_id`` names the function, which
the registry routes to that function alone, whatever its triggers. So a cron-only function
invoked this way simply runs now ("Run now"), and flow control applies as to any other run.

``POST /v1/functions/{slug}/invoke`` and the dashboard's invoke form both come here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from inlet.errors import EventTooLarge, NotFound
from inlet.ids import new_ulid
from inlet.model import Event, Function, SkipRecord
from inlet.runs.apply import Applier
from inlet.runs.registry import Registry
from inlet.steps.waits import INVOKED
from inlet.store import Store


@dataclass(frozen=True, slots=True)
class Invoked:
    function_slug: str
    event_id: str
    run_ids: tuple[str, ...]
    skipped: tuple[SkipRecord, ...]
    """Why no run started (a paused function, a flow-control gate), when none did."""


class Invoker:
    def __init__(
        self,
        store: Store,
        applier: Applier,
        registry: Callable[[], Registry],
        max_event_bytes: int,
    ) -> None:
        self._store = store
        self._applier = applier
        self._registry = registry
        self._max_event_bytes = max_event_bytes

    def function(self, slug: str) -> Function:
        """The registered function ``slug``; ``NotFound`` names the known ones."""
        registry = self._registry()
        fn = registry.get(slug)
        if fn is None:
            known = ", ".join(sorted(registry.functions)) or "none"
            raise NotFound(
                f"function {slug!r} is not registered; known functions: {known} "
                "(GET /v1/functions lists them)"
            )
        return fn

    async def invoke(
        self,
        slug: str,
        data: dict[str, Any],
        user: dict[str, Any],
        now: float,
        source: str = "api",
    ) -> Invoked:
        """Start a run of ``slug`` now with ``data`` as its event's data."""
        fn = self.function(slug)
        size = len(orjson.dumps({"data": data, "user": user}))
        if size > self._max_event_bytes:
            raise EventTooLarge(
                f"the invoke payload is {size} bytes; expected at most "
                f"{self._max_event_bytes} (INLET_MAX_EVENT_BYTES)"
            )
        internal_id = new_ulid(now)
        # Whatever the caller put under _inngest is replaced: it is the routing, not data.
        data = {k: v for k, v in data.items() if k != "_inngest"}
        data["_inngest"] = {"fn_id": fn.slug, "source": source}
        event = Event(
            internal_id=internal_id,
            name=INVOKED,
            data=data,
            id=internal_id,
            ts=int(now * 1000),
            user=user,
            received_at=now,
        )
        result = await self._applier.apply([event], now)
        skips = () if result.run_ids else tuple(await self._store.skips(internal_id))
        return Invoked(fn.slug, internal_id, tuple(result.run_ids), skips)
