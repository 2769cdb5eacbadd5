"""Inngest's time strings: durations such as ``"2h30m"`` and absolute RFC 3339 times.

SDKs send them in function config (throttle periods, timeouts, debounce) and in ops
(``Sleep`` names, ``WaitForEvent`` timeouts, docs/protocol.md §6). The grammar is that of the
Go server's parser: one or more ``<number><unit>`` terms, decimals allowed ("1.5h"),
units ``ns us µs ms s m h d w``, and the bare ``"0"``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from fractions import Fraction

from inlet.errors import InvalidValue

_NS_PER_UNIT = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,  # MICRO SIGN
    "μs": 1_000,  # GREEK SMALL LETTER MU: Go accepts both spellings
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60 * 1_000_000_000,
    "h": 3_600 * 1_000_000_000,
    "d": 86_400 * 1_000_000_000,
    "w": 7 * 86_400 * 1_000_000_000,
}
_TERM = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h|d|w)")
_DURATION = re.compile(rf"\+?(?:{_TERM.pattern})+")
_NS_PER_SECOND = 1_000_000_000

# Go tries strings of at least this length as dates before durations (docs/protocol.md §6.1).
_DATE_MIN_LENGTH = 10

_DURATION_EXAMPLES = '"500ms", "10s", "1m", "2h30m", "1d" or "1w"'
_TIME_EXAMPLE = '"2026-11-22T17:54:57.345Z"'


def parse_duration(text: str) -> float:
    """Seconds in a duration string such as ``"500ms"``, ``"2h30m"`` or ``"1h0m0s"``.

    Raises :class:`InvalidValue` naming the bad value when ``text`` is not a duration or is
    negative.
    """
    stripped = text.strip()
    if stripped in ("0", "+0"):
        return 0.0
    if stripped.startswith("-") and _DURATION.fullmatch(stripped[1:]):
        raise InvalidValue(f"duration {text!r} is negative; expected e.g. {_DURATION_EXAMPLES}")
    if not _DURATION.fullmatch(stripped):
        raise InvalidValue(
            f"invalid duration {text!r}; expected a number and a unit "
            f"(ns, us, ms, s, m, h, d, w) such as {_DURATION_EXAMPLES}"
        )
    # Exact arithmetic so that "0.1s" + "0.2s" terms sum to what the text says.
    total_ns = sum(
        (Fraction(number) * _NS_PER_UNIT[unit] for number, unit in _TERM.findall(stripped)),
        Fraction(0),
    )
    try:
        return float(total_ns / _NS_PER_SECOND)
    except OverflowError:
        raise InvalidValue(f"duration {text!r} is too large") from None


def parse_time_or_duration(text: str, now: float) -> float:
    """The absolute time (epoch seconds) that ``text`` names.

    ``text`` is an RFC 3339 / ISO-8601 time (``"2026-11-22T17:54:57.345Z"``, with or
    without fractional seconds, ``Z`` or an offset; no offset means UTC) or a duration
    counted from ``now``. Like the Go server, strings of 10 or more characters are tried
    as times first. Raises :class:`InvalidValue` when ``text`` is neither.
    """
    stripped = text.strip()
    if len(stripped) >= _DATE_MIN_LENGTH:
        at = _parse_timestamp(stripped)
        if at is not None:
            return at
    if stripped in ("0", "+0") or _DURATION.fullmatch(stripped.removeprefix("-")):
        return now + parse_duration(stripped)
    raise InvalidValue(
        f"invalid time {text!r}; expected a duration such as {_DURATION_EXAMPLES}, "
        f"or an RFC 3339 time such as {_TIME_EXAMPLE}"
    )


def _parse_timestamp(text: str) -> float | None:
    try:
        # upper(): RFC 3339 allows a lowercase "t" and "z", fromisoformat does not.
        parsed = datetime.fromisoformat(text.upper())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def format_duration(seconds: float) -> str:
    """``seconds`` as a duration string that :func:`parse_duration` reads back.

    Examples: ``90`` → ``"1m30s"``, ``0.5`` → ``"500ms"``, ``5400.25`` → ``"1h30m0.25s"``,
    ``86400`` → ``"1d"``. Precision is one microsecond; negative values get a ``-`` sign
    (for display only: :func:`parse_duration` rejects them).
    """
    if seconds < 0:
        return "-" + format_duration(-seconds)
    micros = round(seconds * 1_000_000)
    if micros == 0:
        return "0s"
    parts: list[str] = []
    rest = micros
    for unit_micros, suffix in ((86_400_000_000, "d"), (3_600_000_000, "h"), (60_000_000, "m")):
        count, rest = divmod(rest, unit_micros)
        if count:
            parts.append(f"{count}{suffix}")
    if rest:
        whole, fraction = divmod(rest, 1_000_000)
        if parts or whole:
            # After larger units a fraction rides on the seconds ("1m0.5s", as Go writes
            # it); alone it reads better as milliseconds ("500ms").
            parts.append(f"{whole}{_decimals(fraction, 6)}s")
        else:
            parts.append(f"{fraction // 1_000}{_decimals(fraction % 1_000, 3)}ms")
    return "".join(parts)


def _decimals(value: int, width: int) -> str:
    if value == 0:
        return ""
    return "." + f"{value:0{width}d}".rstrip("0")
