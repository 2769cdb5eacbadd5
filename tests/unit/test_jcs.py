"""canonical() must be byte-identical to the reference JCS the SDKs verify with.

Cost on a typical ~2.2 KB call body (event + 8 memoized steps + ctx, see CALL_BODY),
measured with timeit on CPython 3.11, orjson 3.13, jcs 0.2.1:

    canonical()          ~17 us   (type walk ~14 us + orjson.dumps ~3 us)
    jcs.canonicalize()  ~170 us   (~285 us on a busier run of the same machine)

A body with a float anywhere takes the reference path and costs about the same as jcs.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import jcs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from inngest._internal import transforms as sdk_transforms

from inlet.protocol import jcs as inlet_jcs
from inlet.protocol.jcs import canonical, dumps, loads

# Characters where orjson and JCS could plausibly disagree: control characters, the
# escapes, DEL, line separators, BMP private use (sorts after surrogates in UTF-16) and
# astral characters (surrogate pairs in UTF-16).
TRICKY = st.sampled_from(
    [
        *["\x00", "\x01", "\x08", "\t", "\n", "\x0b", "\x0c", "\r", "\x1f", '"', "\\", "/"],
        *["\x7f", "\u2028", "\u2029", "\ud7ff", "\ue000", "\uffff", "\U00010000", "😀", "é"],
    ]
)
# No lone surrogates: orjson refuses them when parsing, so no wire value holds one.
TEXT = st.text(alphabet=st.characters(codec="utf-8") | TRICKY, max_size=8)
INTEGERS = st.integers(min_value=-(2**200), max_value=2**200) | st.sampled_from(
    [2**53 - 1, 2**53, 2**53 + 1, -(2**53) - 1, 2**63, 2**64, 10**21, 0, -1]
)
FLOATS = st.floats(allow_nan=False, allow_infinity=False)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | INTEGERS | FLOATS | TEXT,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(TEXT, children, max_size=5),
    max_leaves=30,
)
# The same without floats or big integers, so that the fast path is what gets exercised.
FAST_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | TEXT,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(TEXT, children, max_size=5),
    max_leaves=30,
)


def _sha(i: int) -> str:
    return hashlib.sha1(str(i).encode()).hexdigest()


CALL_BODY: dict[str, Any] = {
    "event": {
        "name": "shop/order.created",
        "data": {
            "order_id": "ord_123456",
            "customer": {"id": "cus_9", "email": "a@example.com", "name": "Zoë Example"},
            "items": [{"sku": f"SKU-{i}", "qty": i, "price_cents": 1999 + i} for i in range(5)],
            "total_cents": 10995,
            "currency": "EUR",
        },
        "id": "01JABCDEF0123456789ABCDEFG",
        "ts": 1795370092370,
        "user": {},
    },
    "steps": {_sha(i): {"data": {"ok": True, "n": i, "msg": f"step {i} done"}} for i in range(8)},
    "ctx": {
        "attempt": 0,
        "disable_immediate_execution": False,
        "env": "dev",
        "fn_id": "shop-process-order",
        "run_id": "01JABCDEF0123456789ABCDEFH",
        "stack": {"stack": [_sha(i) for i in range(8)], "current": 8},
        "use_api": False,
    },
    "use_api": False,
    "version": 2,
}
CALL_BODY["events"] = [CALL_BODY["event"]]


@given(JSON_VALUES)
def test_canonical_equals_the_reference_jcs_for_any_json_value(value: object) -> None:
    assert canonical(value) == jcs.canonicalize(value)


@given(FAST_JSON_VALUES)
def test_canonical_equals_the_reference_jcs_on_the_fast_path(value: object) -> None:
    assert canonical(value) == jcs.canonicalize(value)


@given(JSON_VALUES)
def test_the_python_sdk_recanonicalizes_our_bytes_to_the_same_bytes(value: object) -> None:
    # The SDK verifies signatures over jcs(json.loads(body)): our body must be a fixed point.
    body = canonical(value)

    assert sdk_transforms.canonicalize(body) == body


def test_keys_are_ordered_by_utf16_code_units_not_code_points() -> None:
    # U+1F600 is a surrogate pair (D83D DE00) in UTF-16, so it sorts before U+E000.
    assert canonical({"\ue000": 1, "😀": 2}) == '{"😀":2,"\ue000":1}'.encode()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1.0, b"1"),
        (-0.0, b"0"),
        (1e16, b"10000000000000000"),
        (1e21, b"1e+21"),
        (1e-6, b"0.000001"),
        (1e-7, b"1e-7"),
        (2**53 + 1, b"9007199254740992"),
        ("\x1f\n", b'"\\u001f\\n"'),
    ],
)
def test_numbers_and_strings_take_their_ecmascript_form(value: object, expected: bytes) -> None:
    assert canonical(value) == expected


@pytest.mark.parametrize("value", [float("nan"), float("inf"), [10**400], {"a": "\ud800"}])
def test_values_json_cannot_hold_are_a_value_error(value: object) -> None:
    with pytest.raises(ValueError):
        canonical(value)


def test_a_typical_call_body_never_touches_the_slow_reference(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Forbidden:
        @staticmethod
        def canonicalize(value: object) -> bytes:
            raise AssertionError("took the slow path")

    expected = jcs.canonicalize(CALL_BODY)
    monkeypatch.setattr(inlet_jcs, "_reference", Forbidden)

    assert canonical(CALL_BODY) == expected


def test_dumps_keeps_insertion_order_and_loads_reads_it_back() -> None:
    value = {"b": 1, "a": [True, None, "x"]}

    assert dumps(value) == b'{"b":1,"a":[true,null,"x"]}'
    assert loads(dumps(value)) == value
    assert loads('{"a": 1}') == json.loads('{"a": 1}')


def test_loads_raises_a_value_error_on_invalid_json() -> None:
    with pytest.raises(ValueError):
        loads(b"{")


def test_nesting_deeper_than_orjson_allows_still_canonicalizes() -> None:
    value: object = 1
    for _ in range(300):
        value = [value]

    assert canonical(value) == b"[" * 300 + b"1" + b"]" * 300
