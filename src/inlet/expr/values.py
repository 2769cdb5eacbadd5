"""Values during evaluation and Inngest's loose operators over them.

Values are plain JSON-shaped Python (``None``, ``bool``, ``int``, ``float``, ``str``,
``list``, ``dict``) plus ``bytes`` and celpy's ``TimestampType``/``DurationType``, so an
event is read in place instead of being converted to CEL types first. A missing field, or
an operation that fails, is an :class:`Absent` value: Inngest's Go server treats CEL
"unknowns" and errors alike inside calls (``pkg/expressions/unknown.go``,
``handleUnknownCall``), and both mean "no match" at the top.
"""

from __future__ import annotations

import datetime
import math
from decimal import Decimal
from typing import Any

from celpy.celtypes import DurationType, TimestampType

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


class Absent:
    """A missing field ("unknown" in cel-go) or a failed operation ("error")."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return f"Absent({self.reason!r})"


UNKNOWN = Absent("no such field")


class Fail(Exception):
    """An operator or function does not apply to its operands; becomes an ``Absent``."""


def kind(value: Any) -> str:
    """The CEL type name of ``value``."""
    found = _KINDS.get(type(value))
    if found is not None:
        return found
    for cls, name in _KIND_ORDER:
        if isinstance(value, cls):
            return name
    return "unknown" if isinstance(value, Absent) else type(value).__name__


_KIND_ORDER: tuple[tuple[type, str], ...] = (
    (bool, "bool"),
    (int, "int"),
    (float, "double"),
    (str, "string"),
    (bytes, "bytes"),
    (list, "list"),
    (dict, "map"),
    (TimestampType, "timestamp"),
    (DurationType, "duration"),
)
_KINDS: dict[type, str] = {type(None): "null_type", **dict(_KIND_ORDER)}
_NUMBER = ("int", "double")


def truthy(value: Any) -> bool:
    """JavaScript-like truthiness, as Inngest's ``isTruthy`` (unknown.go): unknowns, errors,
    null, false, "", 0 are falsy; everything else, empty lists and maps included, truthy."""
    if value is None or isinstance(value, Absent):
        return False
    if isinstance(value, bool | int | float | str):
        return bool(value)
    return True


def equals(a: Any, b: Any) -> bool:
    """cel-go's heterogeneous equality: numbers by value across int and double, other
    kinds only with their own kind (never an error, ``"1" == 1`` is false)."""
    ka, kb = kind(a), kind(b)
    if ka != kb:
        return ka in _NUMBER and kb in _NUMBER and a == b
    if ka == "list":
        return len(a) == len(b) and all(equals(x, y) for x, y in zip(a, b, strict=True))
    if ka == "map":
        return a.keys() == b.keys() and all(equals(v, b[k]) for k, v in a.items())
    return bool(a == b)


def compare(a: Any, b: Any) -> int:
    """-1, 0 or 1; numbers compare across int and double, other kinds only with their own."""
    ka, kb = kind(a), kind(b)
    if not (ka == kb or (ka in _NUMBER and kb in _NUMBER)):
        raise Fail(f"no ordering between {ka} and {kb}")
    if ka in ("list", "map", "null_type"):
        raise Fail(f"no ordering of {ka}")
    if (ka == "double" and math.isnan(a)) or (kb == "double" and math.isnan(b)):
        raise Fail("NaN is not ordered")
    return -1 if a < b else (1 if a > b else 0)


def check_int(value: int) -> int:
    if not INT64_MIN <= value <= INT64_MAX:
        raise Fail("int64 overflow")
    return value


def add(a: Any, b: Any) -> Any:
    ka, kb = kind(a), kind(b)
    if ka == kb == "int":
        return check_int(a + b)
    if ka in _NUMBER and kb in _NUMBER:
        # cel-go has no int + double; Go reads every JSON number as a double, so promoting
        # keeps `event.data.price + 1.5` working as it does there.
        return float(a) + float(b)
    if ka == kb and ka in ("string", "bytes", "list"):
        return a + b
    if ka == kb == "duration":
        return DurationType(a + b)
    if {ka, kb} == {"timestamp", "duration"}:
        return TimestampType(a + b)
    raise Fail(f"no {ka} + {kb}")


def subtract(a: Any, b: Any) -> Any:
    ka, kb = kind(a), kind(b)
    if ka == kb == "int":
        return check_int(a - b)
    if ka in _NUMBER and kb in _NUMBER:
        return float(a) - float(b)
    if ka == "timestamp" and kb == "timestamp":
        return DurationType(a - b)
    if ka in ("timestamp", "duration") and kb == "duration":
        return (TimestampType if ka == "timestamp" else DurationType)(a - b)
    raise Fail(f"no {ka} - {kb}")


def multiply(a: Any, b: Any) -> Any:
    ka, kb = kind(a), kind(b)
    if ka == kb == "int":
        return check_int(a * b)
    if ka in _NUMBER and kb in _NUMBER:
        return float(a) * float(b)
    raise Fail(f"no {ka} * {kb}")


def divide(a: Any, b: Any) -> Any:
    ka, kb = kind(a), kind(b)
    if ka == kb == "int":
        if b == 0:
            raise Fail("division by zero")
        quotient = abs(a) // abs(b)  # CEL truncates toward zero, like Go
        return check_int(quotient if (a < 0) == (b < 0) else -quotient)
    if ka in _NUMBER and kb in _NUMBER:
        if b == 0:
            return math.copysign(math.inf, a) * math.copysign(1.0, b) if a else math.nan
        return float(a) / float(b)
    raise Fail(f"no {ka} / {kb}")


def modulo(a: Any, b: Any) -> Any:
    if kind(a) == kind(b) == "int":
        if b == 0:
            raise Fail("modulus by zero")
        remainder = abs(a) % abs(b)  # the sign of the dividend, as Go's %
        return remainder if a >= 0 else -remainder
    raise Fail(f"no {kind(a)} % {kind(b)}")


def negate(a: Any) -> Any:
    ka = kind(a)
    if ka == "int":
        return check_int(-a)
    if ka == "double":
        return -a
    if ka == "duration":
        return DurationType(-a)
    raise Fail(f"no -{ka}")


def logical_not(a: Any) -> bool:
    if isinstance(a, bool):
        return not a
    raise Fail(f"no !{kind(a)}")


def contained(item: Any, container: Any) -> bool:
    """``item in container``: list membership by equality, or a map key."""
    if isinstance(container, list):
        return any(equals(item, element) for element in container)
    if isinstance(container, dict):
        if isinstance(item, float) and item.is_integer():
            item = int(item)
        return item in container if not isinstance(item, list | dict) else False
    raise Fail(f"no {kind(item)} in {kind(container)}")


def zero_of(value: Any) -> Any:
    """The zero of ``value``'s kind: Inngest compares null as that zero (``zeroVal``)."""
    return {"int": 0, "double": 0.0, "string": ""}.get(kind(value))


def go_format(value: Any) -> str:
    """``fmt.Sprintf("%v")`` of a value as cel-go holds it: what Inngest's string + value
    concatenation produces (``"a" + 1`` is ``"a1"``, a list ``[3 ok? true]``)."""
    if value is None:
        return "NULL_VALUE"  # cel-go's null is a protobuf enum whose String() this is
    return _go_inner(value)


def _go_inner(value: Any) -> str:
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, list):
        return "[" + " ".join(_go_inner(v) for v in value) + "]"
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda kv: str(kv[0]))
        return "map[" + " ".join(f"{_go_inner(k)}:{_go_inner(v)}" for k, v in items) + "]"
    if isinstance(value, bytes):
        return "[" + " ".join(str(b) for b in value) + "]"
    if isinstance(value, DurationType):
        return str(value)
    if isinstance(value, datetime.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S +0000 UTC")
    return str(value)


def go_float(value: float) -> str:
    """Go's ``%v`` (and ``%g``) of a float64: the shortest digits that read back, in
    exponent form when the decimal exponent is below -4 or at least 6 (``1e+06``)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    sign, digit_tuple, exponent = Decimal(repr(value)).as_tuple()
    digits = "".join(map(str, digit_tuple)).rstrip("0") or "0"
    assert isinstance(exponent, int)
    point = len(digit_tuple) + exponent  # position of the decimal point in ``digits``
    prefix = "-" if sign else ""
    if point - 1 < -4 or point - 1 >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        power = point - 1
        return f"{prefix}{mantissa}e{'-' if power < 0 else '+'}{abs(power):02d}"
    if point <= 0:
        return f"{prefix}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return prefix + digits + "0" * (point - len(digits))
    return f"{prefix}{digits[:point]}.{digits[point:]}"
