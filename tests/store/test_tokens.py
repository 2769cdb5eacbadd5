"""API tokens on every backend: stored by hash, found by hash, listed, revoked for good."""

from __future__ import annotations

import pytest

from inlet.errors import StoreError
from inlet.store import Store
from inlet.store.tokens import ApiToken, Role

NOW = 1_800_000_000.0


def token(n: int, role: Role = "admin", at: float = NOW) -> ApiToken:
    return ApiToken(f"01TOKEN{n:019d}", f"token {n}", role, f"{n:064x}", at)


async def test_a_created_token_is_found_by_its_hash_with_its_role_and_name(store: Store) -> None:
    await store.create_token(token(1, "viewer"))

    found = await store.token_by_hash(f"{1:064x}")

    assert found == token(1, "viewer")
    assert found is not None and not found.revoked
    assert await store.token_by_hash(f"{2:064x}") is None


async def test_tokens_are_listed_oldest_first_revoked_ones_too(store: Store) -> None:
    await store.create_token(token(2, at=NOW + 1))
    await store.create_token(token(1, "viewer", at=NOW))
    await store.revoke_token(token(2).id, NOW + 5)

    listed = await store.list_tokens()

    assert [(t.id, t.role, t.revoked_at) for t in listed] == [
        (token(1).id, "viewer", None),
        (token(2).id, "admin", NOW + 5),
    ]


async def test_a_revoked_token_stays_revoked_and_revoking_again_or_an_unknown_id_says_no(
    store: Store,
) -> None:
    await store.create_token(token(1))

    assert await store.revoke_token(token(1).id, NOW + 1) is True
    assert await store.revoke_token(token(1).id, NOW + 2) is False
    assert await store.revoke_token("no-such-token", NOW + 3) is False
    found = await store.token_by_hash(token(1).hash)
    assert found is not None and found.revoked and found.revoked_at == NOW + 1


async def test_a_second_token_with_the_same_hash_is_refused(store: Store) -> None:
    await store.create_token(token(1))

    with pytest.raises(StoreError):
        await store.create_token(ApiToken("other", "", "viewer", token(1).hash, NOW))


async def test_last_use_only_moves_forward(store: Store) -> None:
    await store.create_token(token(1))

    await store.touch_token(token(1).id, NOW + 10)
    await store.touch_token(token(1).id, NOW + 5)

    found = await store.token_by_hash(token(1).hash)
    assert found is not None and found.last_used_at == NOW + 10
