"""Test doubles for Inlet: for users' tests of their own set-up and for Inlet's service tier.

- ``MemoryStore``: the in-memory store, every rule of the real engine, no files.
- ``FakeClock``: time that moves only when a test says so; the server's loops wait on it.
- ``sign``: the ``X-Inngest-Signature`` of a body, as an SDK or the server computes it.
- ``FakeSDK``: an app, as an ASGI callable, that answers call requests for functions
  written as small async Python functions with a ``step`` API (``run``, ``sleep``,
  ``sleep_until``, ``wait_for_event``, ``invoke``) replayed from memos as the SDKs do.
  It speaks enough of the wire protocol for tests, no more: compatibility with the real
  SDKs is proven by the acceptance tests, which run them.
- ``ASGITransport``: the executor's transport to an ASGI app in this process.
- ``InletTest``: ``create_app`` with all of the above, started in-process, with
  ``settle()`` (run until nothing is left to do now) and ``advance(seconds)`` (move the
  clock, stopping at each moment work falls due). No test sleeps.

The HTTP client of ``InletTest`` is ``httpx``, imported only when an ``InletTest`` starts:
this module ships with Inlet, httpx does not.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from inlet.clock import FakeClock
from inlet.config import Settings
from inlet.protocol.signing import sign, verify
from inlet.store.base import Store
from inlet.store.memory import MemoryStore
from inlet.testing.asgi import ASGITransport
from inlet.testing.sdk import (
    Called,
    Context,
    FakeSDK,
    NonRetriableError,
    RetryAfterError,
    Step,
    StepError,
)

if TYPE_CHECKING:
    import httpx
    from starlette.applications import Starlette

__all__ = [
    "ASGITransport",
    "Called",
    "Context",
    "FakeClock",
    "FakeSDK",
    "InletTest",
    "MemoryStore",
    "NonRetriableError",
    "RetryAfterError",
    "Step",
    "StepError",
    "sign",
    "verify",
]

QUIET_TURNS = 20
"""Event-loop turns in a row with every service idle before a settle ends: a task a
clock move just woke needs a few turns to resume and say it is busy."""


class InletTest:
    """``create_app`` in this process with a ``MemoryStore``, a ``FakeClock`` and the given
    fake apps synced, as an async context manager::

        async with InletTest(sdk) as inlet:
            event_id = await inlet.send_one("app/go", {"n": 1})
            await inlet.advance(30)
            (run,) = await inlet.runs(event_id)

    ``stop()`` and ``start()`` restart the server on the same store and clock. A fake app
    without a clock of its own journals its calls on this one.
    """

    def __init__(
        self,
        *apps: FakeSDK,
        settings: Settings | None = None,
        clock: FakeClock | None = None,
        store: Store | None = None,
    ) -> None:
        self.clock = clock or FakeClock()
        self.store = store or MemoryStore()
        self.settings = settings or Settings(database_url="memory://", discovery=False)
        self.sdks = apps
        for sdk in apps:
            sdk.clock = sdk.clock or self.clock
        self._lifespan: Any = None
        self._http: httpx.AsyncClient | None = None
        self.app: Starlette | None = None

    async def __aenter__(self) -> InletTest:
        await self.start()
        for sdk in self.sdks:
            await self.register(sdk)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        try:
            import httpx
        except ImportError:
            raise RuntimeError(
                "inlet.testing.InletTest needs httpx: pip install httpx (Inlet's dev extra)"
            ) from None
        from inlet.server import create_app

        transport = ASGITransport({sdk.origin: sdk for sdk in self.sdks})
        self.app = create_app(
            self.settings, store=self.store, clock=self.clock, transport=transport
        )
        self._lifespan = self.app.state.server.lifespan(self.app)
        await self._lifespan.__aenter__()
        self._http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://inlet.test"
        )
        await self.settle()

    async def stop(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        if self._lifespan is not None:
            lifespan, self._lifespan = self._lifespan, None
            await lifespan.__aexit__(None, None, None)

    @property
    def http(self) -> httpx.AsyncClient:
        """A client of the server's HTTP API (events, runs, ``/v1/cancellations``...)."""
        if self._http is None:
            raise RuntimeError("the server is not started: use `async with InletTest(...)`")
        return self._http

    # --- time ----------------------------------------------------------------------------

    def _idle(self) -> bool:
        assert self.app is not None
        server = self.app.state.server
        return bool(server.executor.idle and server.scheduler.idle)

    async def settle(self, limit: float = 30.0) -> None:
        """Let the server work until nothing more can happen without the clock moving:
        no call in flight, nothing due, the loops waiting on the clock. Fails after
        ``limit`` real seconds (a server busy that long is a bug to look at)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        quiet = 0
        while quiet < QUIET_TURNS:
            await asyncio.sleep(0)
            quiet = quiet + 1 if self._idle() else 0
            if loop.time() > deadline:
                raise AssertionError(f"the server was still busy after {limit}s of settling")

    async def advance(self, seconds: float) -> None:
        """Move the clock ``seconds`` ahead the way time passes: from one moment a service
        waits for (a timer or retry falling due, the next poll, a cron tick) to the next,
        settling at each, so every piece of work happens at its own time and sees what the
        work before it did."""
        target = self.clock.now() + seconds
        await self.settle()
        while (due := self.clock.next_deadline()) is not None and due <= target:
            self.clock.set(max(due, self.clock.now()))
            await self.settle()
        self.clock.set(max(target, self.clock.now()))
        await self.settle()

    # --- the API -------------------------------------------------------------------------

    async def register(self, sdk: FakeSDK) -> None:
        resp = await self.http.post("/fn/register", json=sdk.registration())
        if resp.status_code != 200:
            raise AssertionError(f"registering {sdk.app_id} failed: {resp.text}")
        await self.settle()

    async def send(self, *events: Mapping[str, Any]) -> list[str]:
        """Send events in one request and settle; their ids."""
        resp = await self.http.post("/e/test-key", json=list(events))
        body = resp.json()
        if resp.status_code != 200 or len(body.get("ids", ())) != len(events):
            raise AssertionError(f"POST /e answered {resp.status_code}: {resp.text}")
        await self.settle()
        return [str(i) for i in body["ids"]]

    async def send_one(self, name: str, data: Mapping[str, Any] | None = None) -> str:
        (event_id,) = await self.send({"name": name, "data": dict(data or {})})
        return event_id

    async def _data(self, path: str, **params: Any) -> Any:
        resp = await self.http.get(path, params=params)
        if resp.status_code != 200:
            raise AssertionError(f"GET {path}: {resp.status_code} {resp.text}")
        return resp.json()["data"]

    async def run(self, run_id: str) -> dict[str, Any]:
        data: dict[str, Any] = await self._data(f"/v1/runs/{run_id}")
        return data

    async def runs(self, event_id: str) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = await self._data(f"/v1/events/{event_id}/runs")
        return data

    async def history(self, run_id: str) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = await self._data(f"/v1/runs/{run_id}/history")
        return data

    async def event(self, event_id: str) -> dict[str, Any]:
        data: dict[str, Any] = await self._data(f"/v1/events/{event_id}")
        return data

    async def events(self, name: str) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = await self._data("/v1/events", name=name, limit=1000)
        return data
