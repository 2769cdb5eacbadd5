"""The composition root: ``create_app(settings, store=..., clock=...)`` builds every service
of one process from ``Settings``, hands the HTTP edge what each handler needs, and owns
the lifespan (open the store, start the loops, stop them in reverse order).

Only this module knows how the pieces fit. Services take their collaborators as
arguments, so tests build the same app with a ``MemoryStore`` and a fake clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware

from inlet.alerts.rulebook import rules_of
from inlet.alerts.service import AlertService
from inlet.api.alerts import AlertsAPI
from inlet.api.apps import AppsAPI
from inlet.api.auth import TokenAuth
from inlet.api.checkpoint import CheckpointAPI
from inlet.api.doctor import DoctorAPI
from inlet.api.errors import HANDLERS
from inlet.api.events import EventsAPI
from inlet.api.functions import FunctionsAPI
from inlet.api.graphql import GraphQLAPI
from inlet.api.health import HealthAPI, Loops
from inlet.api.limits import RequestLimits
from inlet.api.metrics import MetricsAPI
from inlet.api.operations import OperationsAPI
from inlet.api.routes import routes
from inlet.api.runs import RunsAPI
from inlet.api.sdk import SdkAPI
from inlet.api.sync import SyncAPI
from inlet.clock import Clock, SystemClock
from inlet.config import Settings
from inlet.doctor.service import Doctor
from inlet.events.ingest import Ingestor
from inlet.executor.transport import HTTPTransport, Transport
from inlet.executor.worker import Executor
from inlet.metrics import Metrics
from inlet.model import Function
from inlet.runs.apply import Applier
from inlet.runs.bulk import BulkOps
from inlet.runs.cancel import Canceller
from inlet.runs.invoke import Invoker
from inlet.runs.pause import Pauser
from inlet.runs.reaper import Reaper
from inlet.runs.registry import Registry
from inlet.runs.rerun import Rerunner
from inlet.runs.retention import Retention
from inlet.runs.router import Router
from inlet.scheduler.service import Scheduler
from inlet.store import Store, open_store
from inlet.sync.syncer import Syncer
from inlet.ui.routes import dashboard
from inlet.ui.services import Services

log = logging.getLogger("inlet.server")

FUNCTIONS_POLL = 5.0
"""Seconds between reloads of the function registry when other processes share the store."""


class Server:
    """The services of one process. The function registry is an immutable snapshot,
    replaced whole when an app syncs; services read it through ``registry()`` so they
    always see the current one."""

    def __init__(
        self, settings: Settings, store: Store, clock: Clock, transport: Transport | None = None
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self._registry = Registry(())
        self.transport = transport or HTTPTransport(
            timeout=settings.call_timeout,
            max_response_bytes=settings.max_response_bytes,
        )
        self.router = Router(store, self.registry)
        # What this process counts for /metrics, in a registry of this app's own.
        self.metrics = Metrics()
        store.count_with(self.metrics.record)
        # The worker is made after the applier that wakes it: hence the late-bound call.
        self.applier = Applier(
            store,
            self.router,
            settings.event_dedupe_seconds,
            lambda: self.executor.notify(),
        )
        self.executor = Executor(
            store, settings, clock, self.registry, self.transport, self.applier, self.metrics
        )
        self.applier.starter = self.executor
        self.ingestor = Ingestor(settings, clock, self.applier, self.metrics)
        self.scheduler = Scheduler(store, clock, self.registry, self.applier)
        self.syncer = Syncer(store, settings, clock, self.reload_functions)
        self.canceller = Canceller(store, self.applier, clock)
        self.rerunner = Rerunner(store, self.applier, self.registry)
        self.pauser = Pauser(store, self.canceller, clock, self.registry)
        self.reaper = Reaper(
            store, self.applier, clock, lambda: self.executor.notify(), settings.stuck_after
        )
        self.bulk = BulkOps(store, self.applier, self.rerunner, clock, settings.bulk_pace)
        self.invoker = Invoker(store, self.applier, self.registry, settings.max_event_bytes)
        self.retention = Retention(store, clock, settings.retention, dict(settings.retention_for))
        self.alerts = AlertService(
            store,
            clock,
            self.functions,
            settings.alert_webhooks,
            settings.base_url,
            rules=rules_of(settings.alert_rules, settings.alert_interval),
        )
        self._background: set[asyncio.Task[None]] = set()

    def registry(self) -> Registry:
        return self._registry

    def functions(self) -> list[Function]:
        return list(self._registry.functions.values())

    def function(self, slug: str) -> Function | None:
        return self._registry.get(slug)

    async def reload_functions(self) -> None:
        self._registry = Registry(await self.store.list_functions())

    def _functions_changed(self) -> None:
        task = asyncio.create_task(self._reload_logged())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _reload_logged(self) -> None:
        try:
            await self.reload_functions()
        except Exception:
            log.exception("functions.reload_failed")

    async def _refresh_functions(self) -> None:
        """The polling path behind the functions notification."""
        while True:
            await self.clock.sleep(FUNCTIONS_POLL)
            await self._reload_logged()

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        await self.store.open()
        released = await self.store.release_all()
        if released:
            log.info("queue.recovered", extra={"items": released})
        await self.reload_functions()
        refresh = None
        if self.store.shared:
            # Another process may sync an app: its functions must trigger here too.
            self.store.watch(self.executor.notify, self._functions_changed)
            refresh = asyncio.create_task(self._refresh_functions(), name="inlet-functions")
        await self.transport.start()
        await self.executor.start()
        await self.syncer.start()
        await self.scheduler.start()
        await self.bulk.start()
        await self.reaper.start()
        await self.retention.start()
        await self.alerts.start()
        log.info("server.started", extra={"url": self.settings.base_url})
        try:
            yield
        finally:
            # Reloads still in flight must end before the store they read closes.
            pending = [*self._background, *([refresh] if refresh is not None else [])]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            await self.alerts.stop()
            await self.retention.stop()
            await self.reaper.stop()
            await self.bulk.stop()
            await self.scheduler.stop()
            await self.syncer.stop()
            await self.executor.stop()
            await self.transport.close()
            await self.store.close()


def create_app(
    settings: Settings,
    *,
    store: Store | None = None,
    clock: Clock | None = None,
    transport: Transport | None = None,
) -> Starlette:
    """The ASGI app of one server process; ``app.state.server`` holds its services.

    Tests pass fakes: a ``MemoryStore``, a ``FakeClock`` and a transport that calls an app
    in the same process (``inlet.testing`` has all three).
    """
    settings.validate()
    server = Server(settings, store or open_store(settings), clock or SystemClock(), transport)
    table = routes(
        events=EventsAPI(settings, server.store, server.clock, server.ingestor, server.registry),
        runs=RunsAPI(server.store, server.clock, server.canceller, server.registry),
        sdk=SdkAPI(settings, server.store, server.syncer, server.clock),
        sync=SyncAPI(settings, server.store, server.functions),
        graphql=GraphQLAPI(server.store, server.function),
        apps=AppsAPI(server.store, server.clock, server.syncer),
        functions=FunctionsAPI(
            settings, server.store, server.clock, server.registry, server.invoker
        ),
        operations=OperationsAPI(server.rerunner, server.pauser, server.bulk, server.clock),
        alerts=AlertsAPI(server.store, server.clock),
        checkpoint=CheckpointAPI(settings, server.store, server.clock, server.reload_functions),
        health_checks=HealthAPI(
            server.store,
            server.clock,
            Loops(
                worker=lambda: server.executor.alive,
                scheduler=lambda: server.scheduler.alive,
                sync=lambda: server.syncer.alive,
                bulk=lambda: server.bulk.alive,
                worker_idle=lambda: server.executor.idle,
            ),
        ),
        metrics=MetricsAPI(
            server.store, server.clock, server.metrics, lambda: server.registry().functions
        ),
        doctor=DoctorAPI(
            settings, Doctor(settings, server.store, server.clock, server.syncer), server.clock
        ),
    )
    # The dashboard under /ui: open in inlet dev, behind a login in inlet start (ui/guard.py).
    sessions = settings.profile == "start"
    services = Services(
        server.store,
        server.clock,
        server.registry,
        server.canceller,
        server.syncer,
        server.rerunner,
        server.pauser,
        server.bulk,
        server.ingestor,
        server.invoker,
    )
    pages = dashboard(services, sessions=sessions)
    # inlet start: API tokens on every route but the open ones (api/auth.py); inlet dev
    # stays open, as inngest dev is.
    guard = (
        [Middleware(TokenAuth, store=server.store, clock=server.clock)]
        if settings.profile == "start"
        else []
    )
    # Limits first: nothing, not even the token check, reads an oversized or stalled body.
    limits = Middleware(
        RequestLimits, limit=settings.max_request_bytes, idle=settings.request_body_timeout
    )
    app = Starlette(
        routes=[*table, *pages],
        lifespan=server.lifespan,
        exception_handlers=HANDLERS,
        middleware=[limits, *guard],
    )
    app.state.server = server
    return app
