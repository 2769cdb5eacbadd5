"""Signing keys: request signatures and bearer tokens (docs/protocol.md §4).

A signing key is ``signkey-<env>-<hex>`` or bare hex. Signatures are HMAC-SHA256 keyed
with the text after the prefix (its UTF-8 bytes, not the decoded hex); bearer tokens are
the SHA-256 of the decoded hex. No secret ever appears in an error message.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import re
from collections.abc import Sequence

_PREFIX = re.compile(r"^signkey-\w+-")


def strip_key_prefix(key: str) -> str:
    """``key`` without its ``signkey-<env>-`` prefix, if it has one."""
    return _PREFIX.sub("", key, count=1)


def _mac(key: str, body: bytes, ts_text: str) -> str:
    mac = hmac.new(strip_key_prefix(key).encode("utf-8"), body, hashlib.sha256)
    mac.update(ts_text.encode("ascii"))
    return mac.hexdigest()


def sign(body: bytes, key: str, now: float) -> str:
    """The ``X-Inngest-Signature`` value for ``body`` sent at ``now``: ``t=<secs>&s=<hex>``.

    The SDKs verify against the JCS form of the JSON they receive, so ``body`` must be the
    exact canonical bytes that go on the wire (see :func:`inlet.protocol.jcs.canonical`).
    """
    ts_text = str(int(now))
    # t before s: Inngest Cloud compares the header as a string.
    return f"t={ts_text}&s={_mac(key, body, ts_text)}"


def verify(
    header: str,
    body: bytes,
    keys: Sequence[str],
    now: float,
    max_skew: float | None = 300.0,
) -> bool:
    """Whether ``header`` (``t=<secs>&s=<hex>``) signs ``body`` with one of ``keys``.

    The HMAC covers ``body`` exactly as given. A timestamp further than ``max_skew``
    seconds from ``now`` fails, as in the TS SDK; ``None`` skips that check, as the
    Python SDK does.
    """
    fields: dict[str, str] = {}
    for part in header.split("&"):
        name, sep, value = part.partition("=")
        if sep:
            fields.setdefault(name.strip(), value.strip())
    ts_text = fields.get("t", "")
    signature = fields.get("s", "")
    if not (ts_text.isascii() and ts_text.isdigit()) or not signature.isascii():
        return False
    if max_skew is not None and abs(now - int(ts_text)) > max_skew:
        return False
    expected = signature.lower().encode("ascii")
    return any(
        hmac.compare_digest(_mac(key, body, ts_text).encode("ascii"), expected) for key in keys
    )


def hashed_key(key: str) -> str:
    """The bearer-token form of ``key``: hex SHA-256 of its hex digits decoded to bytes.

    Raises ``ValueError`` when the key (without prefix) is not hexadecimal.
    """
    try:
        raw = bytes.fromhex(strip_key_prefix(key))
    except ValueError:
        raise ValueError(
            "the signing key is not hexadecimal after its signkey-<env>- prefix; "
            "expected e.g. signkey-prod-<64 hex digits>"
        ) from None
    return hashlib.sha256(raw).hexdigest()


def bearer_matches(authorization_header: str | None, keys: Sequence[str]) -> bool:
    """Whether an ``Authorization`` header carries one of ``keys``.

    Accepted tokens, each with or without a ``signkey-<env>-`` prefix: the key's hash
    (the Python SDK sends it bare, the TS SDK prefixed) or the plain key itself (as Go's
    server accepts).
    """
    if authorization_header is None:
        return False
    scheme, _, token = authorization_header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    presented = strip_key_prefix(token.strip()).encode("utf-8")
    if not presented:
        return False
    matched = False
    for key in keys:
        plain = strip_key_prefix(key)
        if not plain:
            continue
        candidates = [plain]
        # A non-hex key has no hash form but can still match as plain text.
        with contextlib.suppress(ValueError):
            candidates.append(hashed_key(key))
        for candidate in candidates:
            # No early exit: keep the time independent of which key matched.
            matched |= hmac.compare_digest(candidate.encode("utf-8"), presented)
    return matched
