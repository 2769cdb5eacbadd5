"""ULIDs for events and runs: random ones, and the deterministic ones of docs/protocol.md §1.2.

A ULID is 48 bits of milliseconds since the epoch followed by 80 bits of entropy, written
as 26 characters of Crockford base32, so ids sort by creation time as text. Within a
thread, the ids of one millisecond after its first are the one before plus one (the ULID
spec's monotonic ids): they sort in the order they were made, and each table's index of
them grows at its end, where random ids landed anywhere in the millisecond's last pages
(SQLite's W4 batches 3% faster).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
import os
import threading
from typing import NoReturn

from ulid import ULID

from inlet.errors import InvalidValue

SEED_HEADER = "X-Inngest-Event-Id-Seed"

_MAX_MS = 2**48 - 1
_ENTROPY_BYTES = 10
_CROCKFORD = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_ENTROPY_DIGITS = 16
"""A new ULID's 80 random bits: 16 base32 digits."""
_ENTROPY_BUFFER = 6400
"""Random bytes read from the OS at once: 400 ids' entropy per ``getrandom`` call. Each
thread has its own buffer (no two threads hand out the same bytes), and a forked child
drops its parent's."""
_DIGIT_OF_BYTE = bytes(_CROCKFORD[b & 31] for b in range(256))
"""A random byte as a random Crockford digit (its low 5 bits: 256 is a multiple of 32, so
every digit is as likely): a buffer's worth of digits in one ``bytes.translate``, where
encoding each id's 10 bytes with ``base64.b32encode`` (Python code) cost 1.4 us an id."""
_NEXT_DIGIT = {chr(a): chr(b) for a, b in itertools.pairwise(_CROCKFORD)}
"""Each Crockford digit but the last (Z) and the one after it."""
_SEED_EXAMPLE = "1743130137367,eii2YKXRVTJPuA=="


def _ulid(ms: int, entropy: bytes) -> str:
    return str(ULID.from_bytes(ms.to_bytes(6, "big") + entropy))


class _Source(threading.local):
    """A thread's random bytes and the text of the last millisecond it stamped.

    ``os.urandom`` per id was a system call that also let go of the GIL, where the store
    thread and the event loop contend for it (about 3 per step under W1); the time prefix
    is the same for every id of one millisecond."""

    def __init__(self) -> None:
        self.digits = ""
        self.at = 0
        self.ms = -1
        self.prefix = ""
        self.last = ""
        """The entropy of the last id stamped ``ms``."""

    def entropy(self) -> str:
        """The next 16 random digits."""
        at = self.at
        if at + _ENTROPY_DIGITS > len(self.digits):
            self.digits = os.urandom(_ENTROPY_BUFFER).translate(_DIGIT_OF_BYTE).decode()
            at = 0
        self.at = at + _ENTROPY_DIGITS
        return self.digits[at : at + _ENTROPY_DIGITS]


_source = _Source()


def _fresh_source() -> None:
    global _source
    _source = _Source()


os.register_at_fork(after_in_child=_fresh_source)


def _time_text(ms: int) -> str:
    """48 bits of milliseconds as a ULID's first 10 characters."""
    digits = bytearray(10)
    for k in range(9, -1, -1):
        digits[k] = _CROCKFORD[ms & 31]
        ms >>= 5
    return digits.decode()


def new_ulid(now: float) -> str:
    """A fresh ULID stamped ``now`` (seconds since the epoch) with 80 random bits."""
    ms = int(now * 1000)
    if not 0 <= ms <= _MAX_MS:
        raise ValueError(f"time {now!r} cannot be stored in a ULID; expected 0 <= now < 2**48 ms")
    source = _source
    if source.ms != ms:
        source.ms, source.prefix = ms, _time_text(ms)
        source.last = entropy = source.entropy()
        return source.prefix + entropy
    last = source.last
    step = _NEXT_DIGIT.get(last[-1])
    source.last = entropy = last[:-1] + step if step is not None else _carried(source, last)
    return source.prefix + entropy


def _carried(source: _Source, entropy: str) -> str:
    """``entropy`` plus one where its last digit is Z; fresh random digits in the one case
    in 2**80 where every digit is."""
    kept = entropy.rstrip("Z")
    if not kept:
        return source.entropy()
    tail = len(entropy) - len(kept)
    return kept[:-1] + _NEXT_DIGIT[kept[-1]] + "0" * tail


def ulid_from_seed(seed: str, index: int) -> str:
    """The deterministic ULID of the ``index``-th event (1-based) of a seeded request.

    ``seed`` is the ``X-Inngest-Event-Id-Seed`` header, ``"<unix_ms>,<base64 of 10 bytes>"``.
    Like the Go server, the big-endian uint32 in entropy bytes 6..9 is incremented by
    ``index`` (wrapping), so one header yields a distinct id per event and a retried send
    yields the same ids again. Raises :class:`InvalidValue` when the header is malformed.
    """
    ms, entropy = _parse_seed(seed)
    counter = (int.from_bytes(entropy[6:], "big") + index) % 2**32
    return _ulid(ms, entropy[:6] + counter.to_bytes(4, "big"))


def _parse_seed(seed: str) -> tuple[int, bytes]:
    parts = seed.split(",")
    if len(parts) != 2:
        _bad_seed(seed, "it must have exactly one comma")
    ms_text, entropy_text = parts
    if not (ms_text.isascii() and ms_text.isdigit()):
        _bad_seed(seed, f"{ms_text!r} is not a whole number of milliseconds")
    ms = int(ms_text)
    if not 0 < ms <= _MAX_MS:
        _bad_seed(seed, f"{ms} milliseconds is outside the range a ULID can hold")
    try:
        # validate=True: reject what Go's strict StdEncoding rejects instead of skipping it.
        entropy = base64.b64decode(entropy_text, validate=True)
    except (binascii.Error, ValueError):
        _bad_seed(seed, f"{entropy_text!r} is not standard base64")
    if len(entropy) != _ENTROPY_BYTES:
        _bad_seed(seed, f"its entropy is {len(entropy)} bytes, not {_ENTROPY_BYTES}")
    return ms, entropy


def _bad_seed(seed: str, reason: str) -> NoReturn:
    shown = seed if len(seed) <= 80 else seed[:80] + "..."
    raise InvalidValue(
        f"{SEED_HEADER} header {shown!r} is malformed: {reason}; expected "
        f'"<unix ms>,<base64 of 10 bytes>" such as "{_SEED_EXAMPLE}"'
    )


def ulid_time(ulid: str) -> float:
    """The creation time of ``ulid`` in seconds since the epoch."""
    try:
        return ULID.from_str(ulid).milliseconds / 1000
    except ValueError as exc:
        raise ValueError(f"{ulid!r} is not a ULID: {exc}") from None


def derived_ulid(now: float, key: str) -> str:
    """A ULID stamped ``now`` whose entropy comes from ``key``: the same key at the same
    millisecond gives the same id, so a repeated command creates nothing twice."""
    ms = int(now * 1000)
    return _ulid(ms, hashlib.sha256(key.encode()).digest()[:_ENTROPY_BYTES])


def ulid_floor(at: float) -> str:
    """The smallest ULID of the millisecond ``at``: ids compare as text, so this bounds a
    range scan by time."""
    return _ulid(max(int(at * 1000), 0), bytes(_ENTROPY_BYTES))
