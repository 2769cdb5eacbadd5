"""Dashboard users and sessions as the store keeps them: a user's scrypt password hash,
a session's SHA-256, never a password or a session id itself; and the in-memory tables
behind ``MemoryStore``'s user and session verbs."""

from __future__ import annotations

from dataclasses import dataclass, replace

from inlet.errors import StoreError
from inlet.store.tokens import Role


@dataclass(frozen=True, slots=True)
class User:
    """Someone who logs in to the dashboard of ``inlet start`` with a password."""

    id: str
    name: str
    role: Role
    password: str
    """``scrypt$<n>$<r>$<p>$<salt hex>$<hash hex>`` (see ``inlet.ui.sessions``)."""
    created_at: float


@dataclass(frozen=True, slots=True)
class LoginSession:
    """A dashboard login: who (``subject``: ``user:<id>`` or ``token:<id>``, shown as
    ``label``), with which role, until when (sliding)."""

    hash: str
    """Hex SHA-256 of the session id the browser holds in its cookie."""
    subject: str
    label: str
    role: Role
    created_at: float
    expires_at: float


class MemoryUsers:
    """The ``users`` and ``sessions`` tables as dicts, mixed into ``MemoryStore``."""

    def __init__(self) -> None:
        self._users: dict[str, User] = {}
        self._sessions: dict[str, LoginSession] = {}

    async def create_user(self, user: User) -> None:
        if user.id in self._users or any(u.name == user.name for u in self._users.values()):
            raise StoreError(f"user {user.name!r} (id {user.id!r}) already exists")
        self._users[user.id] = user

    async def user_by_name(self, name: str) -> User | None:
        return next((u for u in self._users.values() if u.name == name), None)

    async def list_users(self) -> list[User]:
        return sorted(self._users.values(), key=lambda u: (u.name, u.id))

    async def remove_user(self, name: str) -> bool:
        user = await self.user_by_name(name)
        if user is None:
            return False
        del self._users[user.id]
        self._end_sessions_of(f"user:{user.id}")
        return True

    def _end_sessions_of(self, subject: str) -> None:
        self._sessions = {h: s for h, s in self._sessions.items() if s.subject != subject}

    async def create_session(self, session: LoginSession) -> None:
        if session.hash in self._sessions:
            raise StoreError("a session with this hash is already stored")
        self._sessions[session.hash] = session

    async def session_by_hash(self, session_hash: str, now: float) -> LoginSession | None:
        found = self._sessions.get(session_hash)
        return found if found is not None and found.expires_at > now else None

    async def extend_session(self, session_hash: str, expires_at: float) -> None:
        found = self._sessions.get(session_hash)
        if found is not None and found.expires_at < expires_at:
            self._sessions[session_hash] = replace(found, expires_at=expires_at)

    async def end_session(self, session_hash: str) -> None:
        self._sessions.pop(session_hash, None)

    async def end_expired_sessions(self, now: float) -> int:
        expired = [h for h, s in self._sessions.items() if s.expires_at <= now]
        for session_hash in expired:
            del self._sessions[session_hash]
        return len(expired)
