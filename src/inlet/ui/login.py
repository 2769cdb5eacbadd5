"""``/ui/login`` and ``/ui/logout``: a session from a user's password (``inlet users
create``) or from an API token (``inlet tokens create``), and its end."""

from __future__ import annotations

import asyncio
import hmac
import logging

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from inlet.api.auth import hash_token
from inlet.clock import Clock
from inlet.store import Store
from inlet.store.tokens import Role
from inlet.store.users import LoginSession
from inlet.ui.guard import principal_of
from inlet.ui.passwords import check_password, dummy_check
from inlet.ui.render import form, html
from inlet.ui.sessions import (
    TTL,
    new_session_id,
    secure,
    session_cookie,
    session_hash,
)

log = logging.getLogger("inlet.ui")

HOME = "/ui/runs"
WRONG = "That name and password, or that token, is not one this server accepts."
MAX_FAILURES = 10
FAILURE_WINDOW = 900.0
"""A client with this many failed logins in this many seconds is refused for a while."""
MAX_CLIENTS = 10_000
THROTTLED = (
    "Too many failed logins from this address in the last 15 minutes; wait a few minutes "
    "and try again."
)


def safe_next(value: str | None) -> str:
    """Where to go after logging in: a dashboard path of ours, never another site."""
    ours = value is not None and value.startswith("/ui/") and not value.startswith("/ui/login")
    if ours and value is not None and "//" not in value and "\\" not in value:
        return value
    return HOME


class Login:
    def __init__(self, store: Store, clock: Clock, *, sessions: bool) -> None:
        self._store = store
        self._clock = clock
        self._sessions = sessions
        self._failures: dict[str, list[float]] = {}

    async def page(self, request: Request) -> Response:
        if not self._sessions:
            return RedirectResponse(HOME, status_code=303)
        target = safe_next(request.query_params.get("next"))
        return html(request, "login.html", next=target, error="", mode="user", name="")

    async def submit(self, request: Request) -> Response:
        if not self._sessions:
            return RedirectResponse(HOME, status_code=303)
        client = request.client.host if request.client else ""
        now = self._clock.now()
        recent = [t for t in self._failures.get(client, []) if now - t < FAILURE_WINDOW]
        self._failures[client] = recent
        if len(recent) >= MAX_FAILURES:
            log.warning("ui.login_throttled", extra={"client": client})
            return html(
                request, "login.html", 429, next=HOME, error=THROTTLED, mode="user", name=""
            )
        fields = await form(request)
        target = safe_next(fields.get("next"))
        mode = "token" if fields.get("mode") == "token" else "user"
        name = fields.get("name", "").strip()
        found = await self._check(mode, name, fields)
        if found is None:
            recent.append(now)
            if len(self._failures) > MAX_CLIENTS:
                self._failures.clear()
            log.info("ui.login_failed", extra={"mode": mode, "client": client})
            return html(request, "login.html", 401, next=target, error=WRONG, mode=mode, name=name)
        subject, label, role = found
        session_id = new_session_id()
        await self._store.end_expired_sessions(now)
        await self._store.create_session(
            LoginSession(session_hash(session_id), subject, label, role, now, now + TTL)
        )
        log.info("ui.login", extra={"subject": subject, "role": role})
        response = RedirectResponse(target, status_code=303)
        response.headers["set-cookie"] = session_cookie(session_id, https=secure(request.scope))
        return response

    async def _check(
        self, mode: str, name: str, fields: dict[str, str]
    ) -> tuple[str, str, Role] | None:
        if mode == "token":
            secret = fields.get("token", "").strip()
            if not secret:
                return None
            digest = hash_token(secret)
            token = await self._store.token_by_hash(digest)
            if token is None or token.revoked or not hmac.compare_digest(token.hash, digest):
                return None
            return f"token:{token.id}", f"token {token.name or token.id}", token.role
        password = fields.get("password", "")
        user = await self._store.user_by_name(name) if name else None
        if user is None:
            await asyncio.to_thread(dummy_check, password)
            return None
        if not await asyncio.to_thread(check_password, password, user.password):
            return None
        return f"user:{user.id}", user.name, user.role

    async def logout(self, request: Request) -> Response:
        principal = principal_of(request.scope)
        if principal.session_hash is not None:
            await self._store.end_session(principal.session_hash)
        target = "/ui/login" if self._sessions else HOME
        response = RedirectResponse(target, status_code=303)
        response.headers["set-cookie"] = session_cookie("", https=secure(request.scope), max_age=0)
        return response
