"""API tokens as the store keeps them: a role and the SHA-256 of the secret, never the
secret itself; the in-memory table behind ``MemoryStore``'s token verbs; and the cache
the API's middleware keeps of the tokens it has found."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final, Literal

from inlet.errors import StoreError

Role = Literal["admin", "viewer"]

ROLES: Final[tuple[Role, ...]] = ("admin", "viewer")
"""``admin`` reads and changes; ``viewer`` only reads."""


@dataclass(frozen=True, slots=True)
class ApiToken:
    id: str
    name: str
    role: Role
    hash: str
    """Hex SHA-256 of the token (see ``inlet.api.auth.hash_token``)."""
    created_at: float
    last_used_at: float | None = None
    revoked_at: float | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


def role(value: str) -> Role:
    """A stored role, checked (a row written by a newer inlet may hold another)."""
    for known in ROLES:
        if value == known:
            return known
    raise ValueError(f"token role {value!r} is unknown; expected one of {', '.join(ROLES)}")


TOKEN_TTL: Final = 5.0
"""Seconds a found token is trusted without reading the store again: a token revoked (by
``inlet tokens revoke`` or another process) stops working within this long."""
MAX_CACHED_TOKENS: Final = 1_000


class TokenCache:
    """Tokens found by hash, each kept ``ttl`` seconds from when it was read (pure: the
    time is given). Only found tokens are kept: an unknown token is looked up every
    time, so one made a moment ago works at once."""

    def __init__(self, ttl: float = TOKEN_TTL, size: int = MAX_CACHED_TOKENS) -> None:
        self._ttl = ttl
        self._size = size
        self._found: dict[str, tuple[float, ApiToken]] = {}

    def get(self, token_hash: str, now: float) -> ApiToken | None:
        """The token read less than ``ttl`` ago, or None (read it again)."""
        entry = self._found.get(token_hash)
        if entry is None:
            return None
        read_at, token = entry
        if not 0 <= now - read_at < self._ttl:
            del self._found[token_hash]
            return None
        return token

    def put(self, token: ApiToken, now: float) -> None:
        if len(self._found) >= self._size:  # the oldest read goes first
            del self._found[next(iter(self._found))]
        self._found.pop(token.hash, None)
        self._found[token.hash] = (now, token)


class MemoryTokens:
    """The ``tokens`` table as a dict, mixed into ``MemoryStore``."""

    def __init__(self) -> None:
        self._tokens: dict[str, ApiToken] = {}

    async def create_token(self, token: ApiToken) -> None:
        if token.id in self._tokens or any(t.hash == token.hash for t in self._tokens.values()):
            raise StoreError(f"token {token.id!r} or its hash is already stored")
        self._tokens[token.id] = token

    async def token_by_hash(self, token_hash: str) -> ApiToken | None:
        return next((t for t in self._tokens.values() if t.hash == token_hash), None)

    async def list_tokens(self) -> list[ApiToken]:
        return sorted(self._tokens.values(), key=lambda t: (t.created_at, t.id))

    async def revoke_token(self, token_id: str, now: float) -> bool:
        token = self._tokens.get(token_id)
        if token is None or token.revoked:
            return False
        self._tokens[token_id] = replace(token, revoked_at=now)
        return True

    async def touch_token(self, token_id: str, now: float) -> None:
        token = self._tokens.get(token_id)
        if token is not None and (token.last_used_at is None or token.last_used_at < now):
            self._tokens[token_id] = replace(token, last_used_at=now)
