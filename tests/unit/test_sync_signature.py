"""In ``inlet start`` an in-band sync answer counts only if an SDK holding the signing key
signed it, as a call reply does (test_reply_signature.py).

The official Python SDK signs every answer to a request it verified, the in-band sync
answer included (``inngest._internal.comm_lib.utils.wrap_handler``). These tests sign with
the SDK's own function, so a drift in the SDK shows here.
"""

from __future__ import annotations

import orjson
from inngest._internal import net as sdk_net

from inlet.sync.request import answer_signature_problem

PRIMARY = "signkey-prod-" + "1f" * 32
FALLBACK = "signkey-prod-" + "2e" * 32
STRANGER = "signkey-prod-" + "3d" * 32
KEYS = (PRIMARY, FALLBACK)
ANSWER = orjson.dumps({"app_id": "shop", "url": "http://a/api/inngest", "functions": []})


def sdk_signature(body: bytes, key: str) -> str:
    signature = sdk_net.sign_response(body, key)
    assert isinstance(signature, str)
    return signature


def test_an_answer_signed_by_the_sdk_with_the_primary_key_is_accepted() -> None:
    assert answer_signature_problem(sdk_signature(ANSWER, PRIMARY), ANSWER, KEYS) is None


def test_an_answer_signed_with_the_fallback_key_is_accepted_during_a_rotation() -> None:
    assert answer_signature_problem(sdk_signature(ANSWER, FALLBACK), ANSWER, KEYS) is None


def test_an_unsigned_answer_names_the_missing_header_and_dev_mode() -> None:
    for header in (None, ""):
        problem = answer_signature_problem(header, ANSWER, KEYS)

        assert problem is not None
        assert problem.startswith("it has no X-Inngest-Signature header")
        assert "INNGEST_DEV" in problem


def test_an_answer_signed_with_another_key_is_refused() -> None:
    problem = answer_signature_problem(sdk_signature(ANSWER, STRANGER), ANSWER, KEYS)

    assert problem is not None
    assert problem.startswith("its X-Inngest-Signature was made with none of this server's")


def test_an_answer_altered_after_signing_is_refused() -> None:
    altered = ANSWER.replace(b"shop", b"evil")

    assert answer_signature_problem(sdk_signature(ANSWER, PRIMARY), altered, KEYS) is not None


def test_a_malformed_signature_header_is_refused_without_naming_any_key() -> None:
    for header in ("garbage", "t=abc&s=00", "s=00", "t=1&s=ö"):
        problem = answer_signature_problem(header, ANSWER, KEYS)

        assert problem is not None
        assert "1f1f" not in problem and "2e2e" not in problem


def test_an_old_timestamp_is_accepted_as_the_sdks_clock_may_drift() -> None:
    old = sdk_net.sign_response(ANSWER, PRIMARY, unix_ms=1)
    assert isinstance(old, str)

    assert answer_signature_problem(old, ANSWER, KEYS) is None
