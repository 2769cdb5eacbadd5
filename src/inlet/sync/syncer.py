"""The sync service: PUT apps so they register, re-sync those in error, discover local apps.

The SDK answers our PUT only after its own ``POST /fn/register`` returned, so the PUT is
awaited without holding anything the register handler needs (docs/protocol.md §2.2).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import aiohttp
import orjson

from inlet.clock import Clock
from inlet.config import MiB, Settings
from inlet.errors import BadRequest
from inlet.store import Store
from inlet.sync.hosts import HostNotAllowed, check_hosts
from inlet.sync.register import Registration, app_url, parse_registration
from inlet.sync.request import answer_signature_problem, in_band_payload, sync_request

log = logging.getLogger("inlet.sync")

DISCOVERY_PORTS = (
    80,
    443,
    *range(3000, 3011),
    4321,
    5000,
    5173,
    8000,
    8080,
    8081,
    8787,
    8888,
    *range(8910, 8916),
)
DISCOVERY_PATHS = (
    "/api/inngest",
    "/x/inngest",
    "/.netlify/functions/inngest",
    "/.redwood/functions/inngest",
)
PUT_TIMEOUT = 30.0
MAX_SYNC_BODY = 4 * MiB
"""The largest sync answer read; a registration of hundreds of functions stays far below."""
PROBE_TIMEOUT = 0.5


class Syncer:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        clock: Clock,
        on_change: Callable[[], Awaitable[None]],
    ) -> None:
        self._store = store
        self._settings = settings
        self._clock = clock
        self._on_change = on_change
        self._targets: dict[str, str | None] = {u: "not synced yet" for u in settings.sdk_urls}
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        # inlet start trusts only signed answers, as it trusts only signed call replies.
        self._answer_keys = settings.signing_keys if settings.profile == "start" else ()

    @property
    def alive(self) -> bool:
        """Its loop runs: started, and not ended by an error (``/health/ready``)."""
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=PUT_TIMEOUT))
        self._task = asyncio.create_task(self._loop(), name="inlet-sync")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._session is not None:
            await self._session.close()

    async def register(self, payload: object) -> bool:
        """Store what an app registered; returns whether its function set changed.

        Raises ``HostNotAllowed`` when the app or one of its functions lives on a host
        outside ``--app-host``."""
        registration = parse_registration(payload, self._clock.now())
        self._check_hosts(registration)
        return await self._save(registration)

    def _check_hosts(self, registration: Registration) -> None:
        urls = [registration.app.url, *(fn.url for fn in registration.functions)]
        check_hosts(urls, self._settings.app_hosts)

    async def _save(self, registration: Registration) -> bool:
        async with self._lock:
            modified = await self._store.save_app(registration.app, registration.functions)
            await self._on_change()
        for url in list(self._targets):
            if app_url(url) == registration.app.url:
                self._targets[url] = None
        log.info(
            "app.synced",
            extra={
                "app": registration.app.app_id,
                "url": registration.app.url,
                "functions": len(registration.functions),
                "modified": modified,
            },
        )
        return modified

    async def sync(self, url: str) -> str | None:
        """PUT the app at ``url`` so it syncs. Returns None on success, else the reason,
        which is also recorded on the app. Raises ``HostNotAllowed`` (recording nothing)
        when the URL's host is outside ``--app-host``."""
        check_hosts([url], self._settings.app_hosts)
        self._targets.setdefault(url, "not synced yet")
        error = await self._put(url)
        self._targets[url] = error
        if error is not None:
            log.warning("app.sync_failed", extra={"url": app_url(url), "reason": error})
            await self._store.set_app_error(app_url(url), error, self._clock.now())
        return error

    async def _put(self, url: str) -> str | None:
        assert self._session is not None
        # Messages are stored and shown: the query string may carry secrets, so it goes.
        shown = app_url(url)
        request = sync_request(
            url, self._settings.server_kind, self._settings.signing_key, self._clock.now()
        )
        try:
            async with self._session.put(
                url, data=request.body, headers=request.headers, allow_redirects=False
            ) as resp:
                if 300 <= resp.status < 400:
                    target = app_url(resp.headers.get("location", "")) or "nowhere"
                    return (
                        f"{shown} answered HTTP {resp.status} redirecting to {target}; "
                        "inlet does not follow redirects on sync: sync the final URL instead"
                    )
                body = await _read_bounded(resp)
                if body is None:
                    return (
                        f"{shown} answered the sync with more than {MAX_SYNC_BODY // MiB} MiB, "
                        "the limit of a sync answer; is it an Inngest SDK serve endpoint?"
                    )
                if resp.status == 401:
                    return self._unauthorized(shown)
                if "x-inngest-sdk" not in resp.headers:
                    return (
                        f"{shown} answered HTTP {resp.status} without an X-Inngest-SDK "
                        "header: it is not an Inngest SDK serve endpoint"
                    )
                if resp.headers.get("x-inngest-sync-kind") == "in_band" and resp.status == 200:
                    if self._answer_keys and (
                        problem := answer_signature_problem(
                            resp.headers.get("x-inngest-signature"), body, self._answer_keys
                        )
                    ):
                        return (
                            f"the app at {shown} answered the sync without a valid "
                            f"signature: {problem}"
                        )
                    answer = in_band_payload(orjson.loads(body))
                    registration = parse_registration(answer, self._clock.now())
                    self._check_hosts(registration)
                    await self._save(registration)
                    return None
                return _out_of_band_error(shown, resp.status, body)
        except BadRequest as exc:
            return f"{shown} sent an invalid registration: {exc.message}"
        except TimeoutError:
            return f"{shown} did not answer the sync within {PUT_TIMEOUT:.0f}s"
        except aiohttp.ClientConnectorError as exc:
            return f"{shown} is unreachable: {exc.os_error}"
        except (aiohttp.ClientError, orjson.JSONDecodeError, OSError) as exc:
            return f"{shown} sync failed: {type(exc).__name__}: {exc}"

    def _unauthorized(self, shown: str) -> str:
        if self._settings.signing_key:
            return (
                f"the app at {shown} rejected this server's signature: it holds a different "
                "signing key, or none; give the app the key inlet start has "
                "(INNGEST_SIGNING_KEY = INLET_SIGNING_KEY)"
            )
        return (
            f"the app at {shown} answered HTTP 401 to an unsigned sync: it runs in production "
            "mode; set INNGEST_DEV=1 on the app, or run inlet start with its signing key"
        )

    async def _loop(self) -> None:
        while True:
            try:
                await self._resync_failed()
                if self._settings.discovery and not any(
                    a.error is None for a in await self._store.list_apps()
                ):
                    await self._discover()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("sync.loop_failed")
            await asyncio.sleep(self._settings.poll_interval)

    async def _resync_failed(self) -> None:
        """Sync again every app in error: those this process tried, and those the store
        holds in error (synced before a restart, or by another process)."""
        for app in await self._store.list_apps():
            if app.error and not any(app_url(u) == app.url for u in self._targets):
                self._targets[app.url] = app.error
        for url, error in list(self._targets.items()):
            if error is None:
                continue
            try:
                await self.sync(url)
            except HostNotAllowed as exc:
                self._targets.pop(url)
                log.warning("app.sync_refused", extra={"url": app_url(url), "reason": exc.message})

    async def known_urls(self) -> list[str]:
        """Every app URL this process syncs or the store holds, for ``apps sync --all``."""
        urls = dict.fromkeys(self._targets)
        for app in await self._store.list_apps():
            if not any(app_url(u) == app.url for u in urls):
                urls[app.url] = None
        return list(urls)

    async def _discover(self) -> None:
        """Find SDK endpoints on the usual local ports (docs/protocol.md §2.5) and sync them."""
        assert self._session is not None
        probes = [
            f"http://127.0.0.1:{port}{path}"
            for port in DISCOVERY_PORTS
            if port != self._settings.port
            for path in DISCOVERY_PATHS
        ]
        found = await asyncio.gather(*(self._probe(u) for u in probes))
        for url, is_sdk in zip(probes, found, strict=True):
            if is_sdk and url not in self._targets:
                log.info("app.discovered", extra={"url": url})
                await self.sync(url)

    async def _probe(self, url: str) -> bool:
        assert self._session is not None
        try:
            async with self._session.get(
                url, timeout=aiohttp.ClientTimeout(total=PROBE_TIMEOUT)
            ) as resp:
                return "x-inngest-sdk" in resp.headers
        except (aiohttp.ClientError, TimeoutError, OSError):
            return False


def _out_of_band_error(shown: str, status: int, body: bytes) -> str | None:
    """Why an out-of-band sync failed, or None: the SDK registered before answering."""
    answer = orjson.loads(body) if body.strip() else {}
    # Python 0.5.19 answers 200 even when registration failed: read the body.
    if status >= 400 or (isinstance(answer, dict) and answer.get("error") and not answer.get("ok")):
        message = (
            answer.get("message") or answer.get("error")
            if isinstance(answer, dict)
            else body[:200].decode(errors="replace")
        )
        return f"{shown} failed to register: HTTP {status}: {message}"
    return None


async def _read_bounded(resp: aiohttp.ClientResponse) -> bytes | None:
    """The answer's body, or None once it passes ``MAX_SYNC_BODY``."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > MAX_SYNC_BODY:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
