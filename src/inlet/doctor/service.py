"""The doctor's gathering: what only the server can see (its settings, its database, its
stored functions, each app probed from where the server calls it), judged by ``checks``
and ``apps``."""

from __future__ import annotations

import asyncio

import aiohttp

from inlet.clock import Clock
from inlet.config import Settings, fingerprint
from inlet.doctor.apps import AppProbe, ServerKeys, app_checks, event_key_hashes
from inlet.doctor.checks import (
    Check,
    database_check,
    expression_checks,
    settings_checks,
)
from inlet.doctor.database import database_status
from inlet.doctor.probe import probe_app
from inlet.errors import StoreError
from inlet.store import Store
from inlet.sync.register import app_url
from inlet.sync.syncer import Syncer

PARALLEL_PROBES = 8


class Doctor:
    def __init__(self, settings: Settings, store: Store, clock: Clock, syncer: Syncer) -> None:
        self._settings = settings
        self._store = store
        self._clock = clock
        self._syncer = syncer

    async def run(self, exposure: str | None = None) -> list[Check]:
        """Every server-side check, in a stable order: settings, database, expressions,
        then each app. ``exposure`` is what binding ``inlet dev`` beyond loopback risks."""
        settings = self._settings
        found = settings_checks(
            settings.profile,
            len(settings.event_keys),
            settings.signing_key_fallback is not None,
            getattr(settings, "retention", None),
            exposure,
        )
        found.append(database_check(await database_status(settings.database)))
        try:
            functions = await self._store.list_functions()
            apps = {a.url: a for a in await self._store.list_apps()}
            urls = await self._syncer.known_urls()
        except StoreError as exc:
            found.append(
                Check(
                    "store",
                    "fail",
                    f"the server cannot read its functions and apps: {exc.message}",
                    "check the database (see the database check)",
                )
            )
            return found
        found.extend(expression_checks(functions))
        if not urls:
            found.append(
                Check(
                    "apps",
                    "warn",
                    "no app is synced: no function can run",
                    "sync your apps: inlet apps sync URL, or inlet start -u URL",
                )
            )
        limit = asyncio.Semaphore(PARALLEL_PROBES)
        keys = ServerKeys(
            settings.profile,
            settings.signing_keys,
            fingerprint(settings.signing_key) if settings.signing_key else "",
            event_key_hashes(settings.event_keys),
        )
        async with aiohttp.ClientSession() as session:

            async def probe(url: str) -> AppProbe:
                app = apps.get(app_url(url))
                async with limit:
                    return await probe_app(
                        session,
                        url,
                        server_kind=settings.server_kind,
                        signing_key=settings.signing_key,
                        now=self._clock.now,
                        app_id=app.app_id if app else "",
                        last_sync_error=app.error if app else None,
                    )

            probes = await asyncio.gather(*(probe(u) for u in urls))
        for answer in probes:
            found.extend(app_checks(answer, keys))
        return found
