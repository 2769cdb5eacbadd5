"""API tokens as the store keeps them: a role and the SHA-256 of the secret, never the
secret itself; and the in-memory table behind ``MemoryStore``'s token verbs."""

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
