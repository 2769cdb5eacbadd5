from __future__ import annotations

import hashlib
import hmac

import httpx
import pytest
from inngest._internal import net as sdk_net
from inngest._internal import server_lib as sdk_server_lib
from inngest._internal import transforms as sdk_transforms

from inlet.protocol.jcs import canonical
from inlet.protocol.signing import (
    bearer_matches,
    hashed_key,
    sign,
    strip_key_prefix,
    verify,
)

HEX = "9a2db2e2a1f5e0d0b6c8f3e1d2c4b6a8f0e1d2c3b4a5968778695a4b3c2d1e0f"
KEY = f"signkey-test-{HEX}"
OTHER_KEY = "signkey-prod-" + "ab" * 32
NOW = 1_795_370_092.9
BODY = canonical({"event": {"name": "app/x", "data": {"n": 1}}, "steps": {}, "version": 2})


def test_the_signkey_env_prefix_is_removed() -> None:
    assert strip_key_prefix(KEY) == HEX
    assert strip_key_prefix("signkey-branch_1-abc") == "abc"
    assert strip_key_prefix(HEX) == HEX
    assert strip_key_prefix("notsignkey-test-abc") == "notsignkey-test-abc"


def test_a_signature_is_hmac_sha256_of_body_then_seconds_keyed_by_the_unprefixed_text() -> None:
    mac = hmac.new(HEX.encode(), BODY + b"1795370092", hashlib.sha256).hexdigest()

    assert sign(BODY, KEY, NOW) == f"t=1795370092&s={mac}"


def test_the_key_works_the_same_with_or_without_its_prefix() -> None:
    assert sign(BODY, KEY, NOW) == sign(BODY, HEX, NOW)


def test_the_official_python_sdk_verifies_our_request_signature() -> None:
    header = sign(BODY, KEY, NOW)

    result = sdk_net.validate_request_sig(
        body=BODY,
        headers={sdk_server_lib.HeaderKey.SIGNATURE.value: header},
        mode=sdk_server_lib.ServerKind.CLOUD,
        signing_key=KEY,
        signing_key_fallback=None,
    )

    assert result == KEY


def test_the_official_python_sdk_verifies_with_its_fallback_key_after_a_rotation() -> None:
    header = sign(BODY, OTHER_KEY, NOW)

    result = sdk_net.validate_request_sig(
        body=BODY,
        headers={sdk_server_lib.HeaderKey.SIGNATURE.value: header},
        mode=sdk_server_lib.ServerKind.CLOUD,
        signing_key=KEY,
        signing_key_fallback=OTHER_KEY,
    )

    assert result == OTHER_KEY


def test_the_official_python_sdk_rejects_a_signature_made_with_another_key() -> None:
    header = sign(BODY, OTHER_KEY, NOW)

    result = sdk_net.validate_request_sig(
        body=BODY,
        headers={sdk_server_lib.HeaderKey.SIGNATURE.value: header},
        mode=sdk_server_lib.ServerKind.CLOUD,
        signing_key=KEY,
        signing_key_fallback=None,
    )

    assert isinstance(result, Exception)


def test_our_header_is_the_one_the_sdks_server_side_signer_writes() -> None:
    assert sign(BODY, KEY, NOW) == sdk_net.sign_request(BODY, KEY, unix_ms=1795370092)


def test_a_response_signed_by_the_official_python_sdk_verifies() -> None:
    response_body = b'{"data": 1}'  # json.dumps output: the SDK signs it as sent, uncanonicalized
    header = sdk_net.sign_response(response_body, KEY, unix_ms=int(NOW))
    assert isinstance(header, str)

    assert verify(header, response_body, [KEY], NOW)


def test_verify_accepts_our_own_signature_with_any_of_the_keys() -> None:
    header = sign(BODY, OTHER_KEY, NOW)

    assert verify(header, BODY, [KEY, OTHER_KEY], NOW)
    assert not verify(header, BODY, [KEY], NOW)
    assert not verify(header, BODY, [], NOW)


def test_verify_rejects_a_changed_body() -> None:
    assert not verify(sign(BODY, KEY, NOW), BODY + b" ", [KEY], NOW)


def test_verify_rejects_a_timestamp_more_than_five_minutes_away_unless_told_not_to() -> None:
    header = sign(BODY, KEY, NOW)
    signed_at = 1_795_370_092  # the whole second in the header

    assert verify(header, BODY, [KEY], signed_at + 300)
    assert verify(header, BODY, [KEY], signed_at - 300)
    assert not verify(header, BODY, [KEY], signed_at + 300.5)
    assert not verify(header, BODY, [KEY], signed_at - 301)
    assert verify(header, BODY, [KEY], signed_at + 86_400, max_skew=None)


@pytest.mark.parametrize(
    "header",
    ["", "garbage", "s=abc", "t=&s=abc", "t=12x&s=abc", "t=1795370092", "t=-1&s=abc", "t=1&s=é"],
)
def test_verify_rejects_malformed_headers(header: str) -> None:
    assert not verify(header, BODY, [KEY], NOW, max_skew=None)


def test_the_hashed_key_is_sha256_of_the_decoded_hex() -> None:
    assert hashed_key(KEY) == hashlib.sha256(bytes.fromhex(HEX)).hexdigest()
    assert hashed_key(KEY) == sdk_transforms.hash_signing_key(KEY)


def test_a_key_that_is_not_hex_has_no_hash_and_the_error_does_not_leak_it() -> None:
    with pytest.raises(ValueError, match="not hexadecimal") as caught:
        hashed_key("signkey-test-secretsecret")

    assert "secretsecret" not in str(caught.value)


def test_hashed_key_is_the_bearer_the_official_python_sdk_sends() -> None:
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("authorization"))
        return httpx.Response(200, json={})

    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        sdk_net.fetch_with_auth_fallback_sync(
            client,
            client.build_request("POST", "http://inlet.test/fn/register"),
            signing_key=KEY,
            signing_key_fallback=None,
        )

    assert seen == [f"Bearer {hashed_key(KEY)}"]
    assert bearer_matches(seen[0], [KEY])


@pytest.mark.parametrize(
    "token",
    [
        hashlib.sha256(bytes.fromhex(HEX)).hexdigest(),  # Python SDK: bare hash
        "signkey-test-" + hashlib.sha256(bytes.fromhex(HEX)).hexdigest(),  # TS SDK
        HEX,  # the plain key, as Go accepts
        KEY,
    ],
)
def test_a_bearer_token_matches_in_every_form_the_sdks_send(token: str) -> None:
    assert bearer_matches(f"Bearer {token}", [KEY])
    assert bearer_matches(f"bearer {token}", [OTHER_KEY, KEY])


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        f"Basic {hashed_key(KEY)}",
        f"Bearer {hashed_key(OTHER_KEY)}",
        f"Bearer {hashed_key(KEY)}x",
        "Bearer signkey-test-",
        "Bearer ünïcode",
    ],
)
def test_a_bearer_token_that_is_not_one_of_the_keys_does_not_match(header: str | None) -> None:
    assert not bearer_matches(header, [KEY])


def test_no_bearer_matches_when_there_are_no_keys() -> None:
    assert not bearer_matches(f"Bearer {hashed_key(KEY)}", [])


def test_a_non_hex_key_still_matches_as_plain_text() -> None:
    assert bearer_matches("Bearer letmein", ["letmein"])
