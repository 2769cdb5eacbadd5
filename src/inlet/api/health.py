"""``GET /health/ready``: whether this process can do its work, for a load balancer or a
Kubernetes readiness probe (``/health`` is liveness and touches nothing).

200 ``{"status": "ok", "checks": {...}}`` or 503 ``{"status": "unavailable", ...}`` with
each check's ``ok`` and, when it fails, a ``reason``. Reasons name what to look at, never
a database URL, a key or a driver's message (which may hold either): the log has those.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response

from inlet.api.render import json_response
from inlet.clock import Clock
from inlet.store import Store
from inlet.store.relational import RelationalStore, migrations

log = logging.getLogger("inlet.api.health")

STORE_TIMEOUT: Final = 2.0
"""Seconds the store has to answer the probe's reads."""
STALLED_AFTER: Final = 300.0
"""Seconds a due item may wait while this process's worker sits idle before the queue
counts as stalled."""


@dataclass(frozen=True, slots=True)
class Loops:
    """Whether each background loop of the process runs (``alive`` of each service)."""

    worker: Callable[[], bool]
    scheduler: Callable[[], bool]
    sync: Callable[[], bool]
    bulk: Callable[[], bool]
    worker_idle: Callable[[], bool]


def _failed(reason: str) -> dict[str, Any]:
    return {"ok": False, "reason": reason}


class HealthAPI:
    def __init__(self, store: Store, clock: Clock, loops: Loops) -> None:
        self._store = store
        self._clock = clock
        self._loops = loops

    async def ready(self, request: Request) -> Response:
        checks: dict[str, dict[str, Any]] = {}
        oldest: float | None = None
        try:
            async with asyncio.timeout(STORE_TIMEOUT):
                oldest = await self._store.next_due()
                version = await self._store.schema_version()
            checks["store"] = {"ok": True}
            checks["schema"] = self._schema(version)
        except TimeoutError:
            checks["store"] = _failed(f"the store did not answer within {STORE_TIMEOUT:g}s")
        except Exception as exc:
            log.warning("health.store_failed", extra={"error": type(exc).__name__})
            checks["store"] = _failed(f"the store failed a read ({type(exc).__name__})")
        stopped = [
            name
            for name, alive in (
                ("worker", self._loops.worker),
                ("scheduler", self._loops.scheduler),
                ("sync", self._loops.sync),
                ("bulk", self._loops.bulk),
            )
            if not alive()
        ]
        checks["loops"] = _failed(f"not running: {', '.join(stopped)}") if stopped else {"ok": True}
        if "schema" in checks:  # the store answered
            checks["queue"] = self._queue(oldest)
        ok = all(check["ok"] for check in checks.values())
        body = {"status": "ok" if ok else "unavailable", "checks": checks}
        return json_response(body, 200 if ok else 503)

    def _schema(self, version: int | None) -> dict[str, Any]:
        if not isinstance(self._store, RelationalStore):
            return {"ok": True}
        latest = migrations(self._store.dialect)[-1][0]
        if version == latest:
            return {"ok": True, "version": version}
        return _failed(
            f"the database schema is at version {version}, this inlet needs {latest}: "
            "run inlet migrate"
        )

    def _queue(self, oldest: float | None) -> dict[str, Any]:
        # Parked and leased items are not due (their due_at moved), so the earliest due
        # time is of work a worker could take now.
        waited = 0.0 if oldest is None else self._clock.now() - oldest
        if waited > STALLED_AFTER and self._loops.worker_idle():
            return _failed(
                f"an item has been due for {waited:.0f}s while this process's worker is idle"
            )
        return {"ok": True}
