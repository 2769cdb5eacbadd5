"""CEL's standard functions and Inngest's extras (``pkg/expressions/exprenv/overloads.go``).

A function raises :class:`Fail` when it does not apply to its arguments; the caller turns
that into an ``Absent`` value. Time is never read here: ``now()``, ``now_plus`` and
``now_minus`` take the evaluation's ``now`` (epoch seconds) as their first argument.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import orjson
from celpy.celtypes import DurationType, TimestampType

from inlet.errors import InvalidValue
from inlet.expr.values import INT64_MAX, INT64_MIN, Fail, go_float, kind
from inlet.protocol.duration import parse_duration

Function = Callable[..., Any]


def _size(value: Any) -> int:
    if isinstance(value, str | bytes | list | dict):
        return len(value)
    raise Fail(f"no size of {kind(value)}")


def _string_method(name: str) -> Function:
    def method(receiver: Any, argument: Any) -> bool:
        if isinstance(receiver, str) and isinstance(argument, str):
            return bool(getattr(receiver, name)(argument))
        raise Fail(f"no {kind(receiver)}.{name}({kind(argument)})")

    return method


def _contains(receiver: Any, argument: Any) -> bool:
    if isinstance(receiver, str) and isinstance(argument, str):
        return argument in receiver
    raise Fail(f"no {kind(receiver)}.contains({kind(argument)})")


@lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise Fail(f"invalid regular expression {pattern!r}: {exc}") from None


def _matches(receiver: Any, pattern: Any) -> bool:
    if isinstance(receiver, str) and isinstance(pattern, str):
        # CEL's matches is RE2 partial matching: a search, not a full match.
        return _regex(pattern).search(receiver) is not None
    raise Fail(f"no {kind(receiver)}.matches({kind(pattern)})")


def _to_int(value: Any) -> int:
    result: int
    if isinstance(value, bool):
        raise Fail("no int(bool)")
    if isinstance(value, int):
        result = value
    elif isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise Fail(f"int({value}) is out of range")
        result = int(value)
    elif isinstance(value, str):
        try:
            result = int(value, 10)
        except ValueError:
            raise Fail(f"int({value!r}): not an integer") from None
    elif isinstance(value, TimestampType):
        result = int(value.timestamp())
    else:
        raise Fail(f"no int({kind(value)})")
    if not INT64_MIN <= result <= INT64_MAX:
        raise Fail(f"int({value!r}) is out of range")
    return result


def _to_double(value: Any) -> float:
    if isinstance(value, bool):
        raise Fail("no double(bool)")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            raise Fail(f"double({value!r}): not a number") from None
    raise Fail(f"no double({kind(value)})")


def _to_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, str | int):
        return str(value)
    if isinstance(value, bytes):
        try:
            return value.decode()
        except UnicodeDecodeError:
            raise Fail("string(bytes): not UTF-8") from None
    if isinstance(value, TimestampType | DurationType):
        return str(value)
    raise Fail(f"no string({kind(value)})")


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        if value in ("true", "True", "TRUE", "t", "1"):
            return True
        if value in ("false", "False", "FALSE", "f", "0"):
            return False
    raise Fail(f"no bool({value!r})")


def _to_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    raise Fail(f"no bytes({kind(value)})")


def _timestamp(value: Any) -> TimestampType:
    if isinstance(value, TimestampType):
        return value
    if isinstance(value, str):
        try:
            return TimestampType(value)
        except ValueError as exc:
            raise Fail(f"timestamp({value!r}): {exc}") from None
    if isinstance(value, int) and not isinstance(value, bool):
        return TimestampType.fromtimestamp(value, datetime.UTC)
    raise Fail(f"no timestamp({kind(value)})")


def _duration(value: Any) -> DurationType:
    if isinstance(value, DurationType):
        return value
    if isinstance(value, str):
        try:
            return DurationType(value)
        except ValueError as exc:
            raise Fail(f"duration({value!r}): {exc}") from None
    raise Fail(f"no duration({kind(value)})")


def _timestamp_method(name: str) -> Function:
    def method(receiver: Any, *zone: Any) -> int:
        if not isinstance(receiver, TimestampType | DurationType):
            raise Fail(f"no {kind(receiver)}.{name}()")
        try:
            return int(getattr(receiver, name)(*zone))
        except (AttributeError, TypeError, ValueError, KeyError) as exc:
            raise Fail(f"{name}: {exc}") from None

    return method


# Inngest's extras. Like Go, non-string arguments read as "" rather than failing.


def _lowercase(value: Any) -> str:
    return value.lower() if isinstance(value, str) else ""


def _uppercase(value: Any) -> str:
    return value.upper() if isinstance(value, str) else ""


def _b64decode(value: Any) -> str:
    if not isinstance(value, str):
        return ""
    try:
        decoded = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return ""  # Go ignores the error and keeps what it decoded (usually nothing)
    return decoded.decode("utf-8", errors="replace")


def _json_parse(value: Any) -> dict[str, Any]:
    # Go unmarshals into a map and ignores errors: anything but a JSON object is {}.
    if isinstance(value, str):
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError:
            return {}
        if isinstance(parsed, dict):
            return parsed
    return {}


# Go's dateutil.ParseString layouts after RFC 3339, as strptime formats; a zone
# abbreviation Go does not know parses as UTC there, and here every one does.
_DATE_LAYOUTS = (
    "%a, %d %b %Y %H:%M:%S %Z",  # RFC 1123
    "%d %b %y %H:%M %Z",  # RFC 822
    "%d %b %y %H:%M %z",  # RFC 822Z
    "%A, %d-%b-%y %H:%M:%S %Z",  # RFC 850
    "%a %b %d %H:%M:%S %z %Y",  # Ruby
    "%a %b %d %H:%M:%S %Z %Y",  # Unix
    "%a %b %d %H:%M:%S %Y",  # ANSI C
)
_ZONE = re.compile(r"\b[A-Z]{3,5}\b")
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})?)?")
_GO_STRING = re.compile(r"(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)?) ([+-]\d{4}) \w+")
_MIN_EPOCH_SECONDS = 946_684_800  # Go refuses ints before 2000 as dates


def _date(value: Any) -> TimestampType:
    """Inngest's ``date(x)``: a string in a common layout, or an int as Unix seconds,
    milliseconds or nanoseconds by magnitude (``dateutil.ParseInt``)."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < _MIN_EPOCH_SECONDS:
            raise Fail(f"date({value}): before 2000")
        seconds = (
            value if value < 9_999_999_999 else value / (1e3 if value < 9_999_999_999_999 else 1e9)
        )
        return TimestampType.fromtimestamp(seconds, datetime.UTC)
    if isinstance(value, str):
        parsed = _parse_date(value.strip())
        if parsed is not None:
            return TimestampType.fromtimestamp(parsed.timestamp(), datetime.UTC)
    raise Fail(f"date({value!r}): not a date")


def _parse_date(text: str) -> datetime.datetime | None:
    parsed: datetime.datetime | None = None
    if _ISO.fullmatch(text):
        parsed = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    elif match := _GO_STRING.fullmatch(text):
        parsed = datetime.datetime.fromisoformat(f"{match[1]}{match[2]}")
    else:
        utc = _ZONE.sub("UTC", text)
        for layout in _DATE_LAYOUTS:
            try:
                parsed = datetime.datetime.strptime(utc, layout)
                break
            except ValueError:
                continue
    if parsed is not None and parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return parsed


class NoClock(Exception):
    """``now()`` was called but the caller passed no time: the whole evaluation fails,
    rather than counting as an unknown operand that a comparison might turn into true."""


def _now(now: float | None) -> TimestampType:
    if now is None:
        raise NoClock("now() needs the evaluation time; none was given")
    return TimestampType.fromtimestamp(now, datetime.UTC)


def _signed_duration(text: Any) -> float:
    if not isinstance(text, str):
        raise Fail(f"expected a duration string, got {kind(text)}")
    negative = text.strip().startswith("-")
    try:
        seconds = parse_duration(text.strip().removeprefix("-"))
    except InvalidValue as exc:
        raise Fail(exc.message) from None
    return -seconds if negative else seconds


def _now_plus(now: float | None, text: Any) -> TimestampType:
    return TimestampType.fromtimestamp(_now(now).timestamp() + _signed_duration(text), datetime.UTC)


def _now_minus(now: float | None, text: Any) -> TimestampType:
    return TimestampType.fromtimestamp(_now(now).timestamp() - _signed_duration(text), datetime.UTC)


FUNCTIONS: dict[str, Function] = {
    "size": _size,
    "contains": _contains,
    "startsWith": _string_method("startswith"),
    "endsWith": _string_method("endswith"),
    "matches": _matches,
    "int": _to_int,
    "double": _to_double,
    "string": _to_string,
    "bool": _to_bool,
    "bytes": _to_bytes,
    "dyn": lambda value: value,
    "timestamp": _timestamp,
    "duration": _duration,
    "lowercase": _lowercase,
    "uppercase": _uppercase,
    "b64decode": _b64decode,
    "json_parse": _json_parse,
    "date": _date,
    **{
        name: _timestamp_method(name)
        for name in (
            "getDate",
            "getDayOfMonth",
            "getDayOfWeek",
            "getDayOfYear",
            "getFullYear",
            "getMonth",
            "getHours",
            "getMilliseconds",
            "getMinutes",
            "getSeconds",
        )
    },
}

# These read the evaluation time, passed first.
TIME_FUNCTIONS: dict[str, Function] = {
    "now": _now,
    "now_plus": _now_plus,
    "now_minus": _now_minus,
}

SIZE_FUNCTIONS = frozenset({"size"})
