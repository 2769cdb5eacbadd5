"""CEL literals: reading celpy's literal tokens, and writing JSON values as CEL source."""

from __future__ import annotations

import math
import re
from typing import Any

import lark

from inlet.expr.values import INT64_MAX, INT64_MIN


class LiteralInvalid(ValueError):
    """A literal token that is not valid CEL (bad escape, integer out of range)."""


_SIMPLE_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    "'": "'",
    '"': '"',
    "`": "`",
    "?": "?",
}
_ESCAPE = re.compile(
    r"\\(?:(?P<simple>[abfnrtv\\'\"`?])|x(?P<hex>[0-9a-fA-F]{2})|(?P<oct>[0-3][0-7]{2})"
    r"|u(?P<u4>[0-9a-fA-F]{4})|U(?P<u8>[0-9a-fA-F]{8})|(?P<bad>.?))",
    re.DOTALL,
)


def decode_literal(token: object) -> Any:
    """The value of one celpy literal token (the child of a ``literal`` node)."""
    if not isinstance(token, lark.Token):
        raise LiteralInvalid(f"not a literal token: {token!r}")
    text = str(token)
    match token.type:
        case "NULL_LIT":
            return None
        case "BOOL_LIT":
            return text == "true"
        case "INT_LIT" | "UINT_LIT":
            # uint is read as int: JSON has no uint, and cel-go compares them across kinds.
            digits = text.rstrip("uU")
            negative = digits.startswith("-")
            body = digits.removeprefix("-")
            number = int(body[2:], 16) if body[:2].lower() == "0x" else int(body, 10)
            number = -number if negative else number
            if not INT64_MIN <= number <= (INT64_MAX if token.type == "INT_LIT" else 2**64 - 1):
                raise LiteralInvalid(f"integer literal {text} is out of range")
            return number
        case "FLOAT_LIT":
            return float(text)
        case "STRING_LIT" | "MLSTRING_LIT":
            return _string_body(text)
        case "BYTES_LIT":
            return _string_body(text[1:], as_bytes=True)
    raise LiteralInvalid(f"unknown literal {text!r}")  # pragma: no cover - grammar-bound


def _string_body(text: str, as_bytes: bool = False) -> Any:
    raw = text[0] in "rR"
    if raw:
        text = text[1:]
    quote = text[:3] if text[:3] in ('"""', "'''") else text[0]
    body = text[len(quote) : -len(quote)]
    if raw:
        return body.encode() if as_bytes else body
    out: list[str] | bytearray = bytearray() if as_bytes else []
    position = 0
    for match in _ESCAPE.finditer(body):
        _append(out, body[position : match.start()], as_bytes)
        position = match.end()
        if match["simple"] is not None:
            _append(out, _SIMPLE_ESCAPES[match["simple"]], as_bytes)
        elif match["hex"] is not None or match["oct"] is not None:
            code = int(match["hex"], 16) if match["hex"] is not None else int(match["oct"], 8)
            if isinstance(out, bytearray):
                out.append(code)  # in bytes, \x and octal escapes are bytes
            else:
                out.append(chr(code))
        elif match["u4"] is not None or match["u8"] is not None:
            code = int(match["u4"] or match["u8"], 16)
            if code > 0x10FFFF:
                raise LiteralInvalid(f"escape {match[0]} is not a code point")
            _append(out, chr(code), as_bytes)
        else:
            raise LiteralInvalid(f"invalid escape {match[0]!r} in {text}")
    _append(out, body[position:], as_bytes)
    return bytes(out) if isinstance(out, bytearray) else "".join(out)


def _append(out: list[str] | bytearray, text: str, as_bytes: bool) -> None:
    if isinstance(out, bytearray):
        out.extend(text.encode("utf-8", "surrogatepass"))
    else:
        out.append(text)


def render(value: Any) -> str:
    """CEL source for a JSON value, reading back as the same value.

    Strings are double-quoted with ``\\``, ``"`` and control characters escaped, so no
    value can close the literal or inject syntax. Floats always carry a ``.`` or an
    exponent so that they stay doubles.
    """
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            return render(float(value))  # cel-go cannot hold it as an int either
        # A negative literal needs parentheses: celpy lexes "x -1" as two values.
        return f"({value})" if value < 0 else str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise LiteralInvalid(f"{value} has no CEL literal")
        text = repr(value)
        if "." not in text and "e" not in text:
            text += ".0"
        return f"({text})" if value < 0 else text
    if isinstance(value, str):
        return '"' + _ESCAPE_OUT.sub(_escape_char, value) + '"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(render(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{render(k)}: {render(item)}" for k, item in value.items()) + "}"
    raise LiteralInvalid(f"{type(value).__name__} value {value!r} has no CEL literal")


_ESCAPE_OUT = re.compile(r'[\\"\x00-\x1f\x7f\u2028\u2029\ud800-\udfff]')


def _escape_char(match: re.Match[str]) -> str:
    char = match[0]
    if char in '\\"':
        return "\\" + char
    return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char, f"\\u{ord(char):04x}")
