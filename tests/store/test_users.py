"""Dashboard users and sessions on every backend: users by name, sessions by hash with a
sliding expiry, logout and removal that end sessions for every process."""

from __future__ import annotations

import pytest

from inlet.errors import StoreError
from inlet.store import Store
from inlet.store.tokens import ApiToken, Role
from inlet.store.users import LoginSession, User

NOW = 1_800_000_000.0
HOUR = 3600.0


def user(n: int, role: Role = "admin", name: str | None = None) -> User:
    return User(f"01USER{n:020d}", name or f"user{n}", role, f"scrypt$16384$8$1$aa${n:064x}", NOW)


def session(
    n: int, subject: str = "user:x", role: Role = "viewer", ttl: float = HOUR
) -> LoginSession:
    return LoginSession(f"{n:064x}", subject, f"label {n}", role, NOW, NOW + ttl)


async def test_a_created_user_is_found_by_name_with_role_and_password_hash(store: Store) -> None:
    await store.create_user(user(1, "viewer"))

    assert await store.user_by_name("user1") == user(1, "viewer")
    assert await store.user_by_name("nobody") is None


async def test_a_second_user_of_the_same_name_is_refused(store: Store) -> None:
    await store.create_user(user(1))

    with pytest.raises(StoreError):
        await store.create_user(user(2, name="user1"))
    assert [u.id for u in await store.list_users()] == [user(1).id]


async def test_users_are_listed_by_name(store: Store) -> None:
    await store.create_user(user(1, name="zoe"))
    await store.create_user(user(2, "viewer", name="adam"))

    assert [(u.name, u.role) for u in await store.list_users()] == [
        ("adam", "viewer"),
        ("zoe", "admin"),
    ]


async def test_removing_a_user_ends_their_sessions_and_only_theirs(store: Store) -> None:
    await store.create_user(user(1))
    await store.create_session(session(1, f"user:{user(1).id}"))
    await store.create_session(session(2, "token:other"))

    assert await store.remove_user("user1") is True
    assert await store.remove_user("user1") is False
    assert await store.user_by_name("user1") is None
    assert await store.session_by_hash(session(1).hash, NOW) is None
    assert await store.session_by_hash(session(2).hash, NOW) == session(2, "token:other")


async def test_a_session_is_found_by_hash_until_it_expires(store: Store) -> None:
    await store.create_session(session(1))

    assert await store.session_by_hash(session(1).hash, NOW + HOUR - 1) == session(1)
    assert await store.session_by_hash(session(1).hash, NOW + HOUR) is None
    assert await store.session_by_hash(session(9).hash, NOW) is None


async def test_extending_a_session_only_ever_moves_its_expiry_forward(store: Store) -> None:
    await store.create_session(session(1))

    await store.extend_session(session(1).hash, NOW + 5 * HOUR)
    await store.extend_session(session(1).hash, NOW + 2 * HOUR)

    found = await store.session_by_hash(session(1).hash, NOW + 4 * HOUR)
    assert found is not None and found.expires_at == NOW + 5 * HOUR


async def test_a_session_hash_is_stored_once(store: Store) -> None:
    await store.create_session(session(1))

    with pytest.raises(StoreError):
        await store.create_session(session(1, "token:other"))


async def test_logging_out_ends_the_session_and_a_second_logout_is_harmless(
    store: Store,
) -> None:
    await store.create_session(session(1))

    await store.end_session(session(1).hash)
    await store.end_session(session(1).hash)

    assert await store.session_by_hash(session(1).hash, NOW) is None


async def test_expired_sessions_are_deleted_and_live_ones_kept(store: Store) -> None:
    await store.create_session(session(1, ttl=HOUR))
    await store.create_session(session(2, ttl=3 * HOUR))

    assert await store.end_expired_sessions(NOW + 2 * HOUR) == 1
    assert await store.session_by_hash(session(2).hash, NOW + 2 * HOUR) is not None
    assert await store.end_expired_sessions(NOW + 2 * HOUR) == 0


async def test_revoking_a_token_ends_the_sessions_it_opened_and_only_those(store: Store) -> None:
    token = ApiToken("01TOKEN", "ci", "viewer", "ab" * 32, NOW)
    await store.create_token(token)
    await store.create_session(session(1, "token:01TOKEN"))
    await store.create_session(session(2, "token:other"))

    assert await store.revoke_token("01TOKEN", NOW + 1) is True
    assert await store.session_by_hash(session(1).hash, NOW) is None
    assert await store.session_by_hash(session(2).hash, NOW) == session(2, "token:other")
