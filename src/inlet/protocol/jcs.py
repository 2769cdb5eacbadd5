"""JSON as bytes: RFC 8785 canonical form for signed bodies, plain orjson for storage.

Call bodies are signed over their canonical form (docs/protocol.md §4.2), so producing it is on
the executor's hot path. orjson with sorted keys already writes RFC 8785 for most values:
compact separators, the same string escapes (short forms for ``\\b \\t \\n \\f \\r``,
lowercase ``\\u00xx`` for other control characters, everything else raw UTF-8) and the
same integer text. It differs in three places, and any value touching one of them goes
to the reference implementation (the ``jcs`` package, which the Python SDK itself uses
to verify our signatures):

* floats: orjson writes ``1.0``, ``-0.0``, ``1e+16`` and ``1e-6`` where ES6 number
  formatting gives ``1``, ``0``, ``10000000000000000`` and ``0.000001``.
* integers beyond 2**53: JCS passes numbers through IEEE doubles, so ``2**53 + 1``
  becomes ``9007199254740992``. orjson writes the exact integer.
* keys outside the Basic Multilingual Plane: JCS sorts keys by UTF-16 code units, orjson
  by code points, and the two orders disagree once a key holds a surrogate pair.
"""

from __future__ import annotations

from typing import Any

import jcs as _reference
import orjson

_SAFE_INT = 2**53
_BMP_MAX = "\uffff"


def canonical(value: object) -> bytes:
    """``value`` as RFC 8785 canonical JSON (UTF-8), byte-identical to ``jcs.canonicalize``.

    Raises ``ValueError`` for NaN, infinities, numbers too large for a double and strings
    with lone surrogates, and ``TypeError`` for values that are not JSON (sets, bytes,
    objects).
    """
    if _orjson_is_canonical(value):
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:
            # Lone surrogates, nesting deeper than orjson's limit of 254: the reference
            # either copes or raises its own, documented, error.
            pass
    try:
        result: bytes = _reference.canonicalize(value)
    except OverflowError as exc:
        raise ValueError(f"a number cannot be written as canonical JSON: {exc}") from None
    return result


def _orjson_is_canonical(root: object) -> bool:
    # An explicit stack of containers rather than recursion: faster, and deep user data
    # cannot hit the recursion limit here. Scalars are checked in place, not pushed.
    stack: list[Any] = [(root,)]
    while stack:
        container = stack.pop()
        if type(container) is dict:
            for key in container:
                if type(key) is not str or (not key.isascii() and max(key) > _BMP_MAX):
                    return False
            values = container.values()
        else:
            values = container
        for value in values:
            kind = type(value)
            if kind is str or kind is bool or value is None:
                continue
            if kind is int:
                if -_SAFE_INT <= value <= _SAFE_INT:
                    continue
                return False
            if kind is dict or kind is list or kind is tuple:
                stack.append(value)
                continue
            # Floats, and subclasses (IntEnum, OrderedDict...) whose text orjson and jcs
            # may render differently: let the reference decide.
            return False
    return True


def dumps(value: object) -> bytes:
    """``value`` as compact JSON in insertion order, for storage (not for signing)."""
    return orjson.dumps(value)


def loads(data: bytes | str) -> object:
    """Parse JSON text. Raises ``orjson.JSONDecodeError`` (a ``ValueError``) when invalid."""
    return orjson.loads(data)
