"""ASGI middleware in front of every dashboard path: who is asking, and may they.

In ``inlet start`` a page needs a session (``/ui/login`` makes one); without it a page
redirects to the login and the live stream answers 401. In ``inlet dev`` everyone is an
admin, as in ``inngest dev``. Either way, a request that changes something (any method
but GET and HEAD) must come from one of our own pages: its Origin (or Referer) names this
host, its form carries the CSRF token, and its session is an admin's (logging out is the
one change a viewer may make). Every answer forbids framing and caching."""

from __future__ import annotations

import hmac
import secrets
from typing import Final
from urllib.parse import parse_qs, quote, urlsplit

from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from inlet.clock import Clock
from inlet.store import Store
from inlet.ui.sessions import (
    SLIDE_AFTER,
    TTL,
    Principal,
    cookie_value,
    csrf_token,
    session_hash,
)

READS: Final = frozenset({"GET", "HEAD"})
LOGIN: Final = "/ui/login"
LOGOUT: Final = "/ui/logout"
STATIC: Final = "/ui/static/"
STREAM: Final = "/ui/stream"
REVOKED_RECHECK: Final = 5.0
"""Seconds between two reads of the revoked tokens (a token's sessions end with it)."""
PRINCIPAL: Final = "inlet_principal"
"""The key of the request's :class:`Principal` in ``scope["state"]``."""

HEADERS: Final = [
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
        b"form-action 'self'; frame-ancestors 'none'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]


def principal_of(scope: Scope) -> Principal:
    found = scope.get("state", {}).get(PRINCIPAL)
    if not isinstance(found, Principal):
        raise RuntimeError("a dashboard page was reached without the guard in front of it")
    return found


class DashboardGuard:
    def __init__(self, app: ASGIApp, store: Store, clock: Clock, *, sessions: bool) -> None:
        self._app = app
        self._store = store
        self._clock = clock
        self._sessions = sessions
        self._dev = Principal("inlet dev", "admin", secrets.token_hex(32))
        self._revoked_ids: frozenset[str] = frozenset()
        self._revoked_read = float("-inf")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        send = _with_headers(send, scope["path"].startswith(STATIC))
        path, method = scope["path"], scope["method"]
        if path.startswith(STATIC):
            await self._app(scope, receive, send)
            return
        if method not in READS and not same_origin(scope):
            await _refuse(403, "this form was not sent from one of this server's pages")(
                scope, receive, send
            )
            return
        if path.rstrip("/") == LOGIN:
            await self._app(scope, receive, send)
            return
        principal = await self._principal(scope)
        if principal is None:
            await _login_first(scope)(scope, receive, send)
            return
        scope.setdefault("state", {})[PRINCIPAL] = principal
        if method not in READS:
            if not principal.admin and path.rstrip("/") != LOGOUT:
                denied = f"{principal.label} is a viewer: only an admin may change anything"
                await _refuse(403, denied)(scope, receive, send)
                return
            body, receive = await _buffer(receive)
            sent = parse_qs(body.decode("latin-1")).get("csrf", [""])[0]
            if not hmac.compare_digest(sent.encode(), principal.csrf.encode()):
                stale = "the form's CSRF token is missing or stale; reload the page and retry"
                await _refuse(403, stale)(scope, receive, send)
                return
        await self._app(scope, receive, send)

    async def _principal(self, scope: Scope) -> Principal | None:
        if not self._sessions:
            return self._dev
        session_id = cookie_value(scope)
        if session_id is None:
            return None
        digest = session_hash(session_id)
        now = self._clock.now()
        found = await self._store.session_by_hash(digest, now)
        if found is None:
            return None
        if found.subject.startswith("token:") and await self._revoked(found.subject[6:], now):
            # A session made with a token ends with the token (inlet tokens revoke).
            await self._store.end_session(digest)
            return None
        if found.expires_at - now < TTL - SLIDE_AFTER:
            await self._store.extend_session(digest, now + TTL)
        return Principal(found.label, found.role, csrf_token(session_id), digest)

    async def _revoked(self, token_id: str, now: float) -> bool:
        if now - self._revoked_read >= REVOKED_RECHECK:
            tokens = await self._store.list_tokens()
            self._revoked_ids = frozenset(t.id for t in tokens if t.revoked)
            self._revoked_read = now
        return token_id in self._revoked_ids


def same_origin(scope: Scope) -> bool:
    """Whether the Origin header (or, without it, the Referer) names the host the request
    was sent to. Neither present (an old client, a stripped Referer) passes: the CSRF
    token still has to match."""
    headers = {bytes(k).lower(): bytes(v).decode("latin-1") for k, v in scope["headers"]}
    host = headers.get(b"x-forwarded-host", headers.get(b"host", "")).split(",")[0].strip()
    source = headers.get(b"origin") or headers.get(b"referer")
    if source is None:
        return True
    if source == "null":
        return False
    return urlsplit(source).netloc.lower() == host.lower()


def _login_first(scope: Scope) -> Response:
    if scope["method"] in READS and not scope["path"].startswith(STREAM):
        target = scope["path"]
        query = bytes(scope.get("query_string", b"")).decode("latin-1")
        if query:
            target += "?" + query
        return RedirectResponse(f"{LOGIN}?next={quote(target, safe='')}", status_code=303)
    return _refuse(401, "log in first: this dashboard needs a session (/ui/login)")


def _refuse(status: int, reason: str) -> Response:
    return PlainTextResponse(f"{status}: {reason}\n", status_code=status)


def _with_headers(send: Send, cacheable: bool) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            headers += HEADERS
            if not cacheable:
                headers.append((b"cache-control", b"no-store"))
            message = {**message, "headers": headers}
        await send(message)

    return wrapped


async def _buffer(receive: Receive) -> tuple[bytes, Receive]:
    """The whole body (already bounded by ``RequestLimits``), and a ``receive`` that hands
    it to the page as if unread."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay
