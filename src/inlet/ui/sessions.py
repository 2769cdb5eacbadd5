"""Who is looking at the dashboard: a :class:`Principal` with a role and a CSRF token,
and the cookie that carries a session.

A session id is 256 random bits held only by the browser (an HttpOnly cookie); the store
keeps its SHA-256, so a leaked database logs nobody in, and logout or expiry holds for
every process sharing it. The CSRF token is derived from the session id, so it needs no
column and dies with the session; in ``inlet dev`` (no sessions) it is a secret of the
process."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Final

from starlette.types import Scope

from inlet.store.tokens import Role

COOKIE: Final = "inlet_session"
TTL: Final = 12 * 3600.0
"""Seconds a session lives after its last use (sliding)."""
SLIDE_AFTER: Final = 60.0
"""Seconds of use before the expiry is written forward again (not a write per request)."""


@dataclass(frozen=True, slots=True)
class Principal:
    label: str
    """Shown in the sidebar: the user's name, or the token's."""
    role: Role
    csrf: str
    session_hash: str | None = None
    """None in ``inlet dev``, which has no sessions."""

    @property
    def admin(self) -> bool:
        return self.role == "admin"


def new_session_id() -> str:
    return secrets.token_urlsafe(32)


def session_hash(session_id: str) -> str:
    """What the store keeps of a session: its id's hex SHA-256."""
    return hashlib.sha256(session_id.encode()).hexdigest()


def csrf_token(session_id: str) -> str:
    """The session's CSRF token: another digest of the id, never the stored one."""
    return hashlib.sha256(b"inlet-csrf\0" + session_id.encode()).hexdigest()


def secure(scope: Scope) -> bool:
    """Whether the browser reached us over https (directly, or through a proxy that says
    so): only then may the cookie demand https."""
    if scope.get("scheme") == "https":
        return True
    for key, value in scope["headers"]:
        if key.lower() == b"x-forwarded-proto":
            return bytes(value).decode("latin-1").split(",")[0].strip().lower() == "https"
    return False


def session_cookie(session_id: str, *, https: bool, max_age: float = TTL) -> str:
    """A ``Set-Cookie`` value; an empty id with ``max_age=0`` deletes the cookie."""
    parts = [
        f"{COOKIE}={session_id}",
        "Path=/",
        f"Max-Age={int(max_age)}",
        "HttpOnly",
        "SameSite=Lax",
    ]
    if https:
        parts.append("Secure")
    return "; ".join(parts)


def cookie_value(scope: Scope) -> str | None:
    for key, value in scope["headers"]:
        if key.lower() != b"cookie":
            continue
        for part in bytes(value).decode("latin-1").split(";"):
            name, _, found = part.strip().partition("=")
            if name == COOKIE and found:
                return found
    return None
