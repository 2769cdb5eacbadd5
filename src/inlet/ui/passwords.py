"""Dashboard passwords: a salted scrypt hash (``hashlib.scrypt``), checked in constant
time. Unlike an API token, a password is chosen by a person and may be guessable, so it
gets a slow, memory-hard hash; the parameters travel with the hash so they can grow."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Final

N: Final = 2**14
R: Final = 8
P: Final = 1
MIN_LENGTH: Final = 8
"""Shorter passwords are refused by ``inlet users create``."""


def hash_password(password: str, salt: bytes | None = None) -> str:
    """``scrypt$<n>$<r>$<p>$<salt hex>$<hash hex>``, with 16 random bytes of salt."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=N, r=R, p=P, dklen=32)
    return f"scrypt${N}${R}${P}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    """Whether ``password`` is the one ``stored`` was made from; a malformed hash is
    never a match."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = bytes.fromhex(digest)
        found = hashlib.scrypt(
            password.encode(),
            salt=bytes.fromhex(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
            maxmem=256 * 1024 * 1024,
        )
    except ValueError:
        return False
    return hmac.compare_digest(found, expected)


def dummy_check(password: str) -> None:
    """Spend the time of a real check: an unknown user name answers as slowly as a wrong
    password, so the answer's timing does not tell which names exist."""
    check_password(password, _DUMMY)


_DUMMY: Final = hash_password("inlet dummy password", salt=b"\0" * 16)
