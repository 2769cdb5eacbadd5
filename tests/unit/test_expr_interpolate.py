"""Fixing the trigger event into wait/cancel conditions, and indexing them by equality."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inlet.expr import (
    ExpressionInvalid,
    compile_expression,
    equality_index,
    index_value,
    interpolate,
)


def evaluate(source: str, **variables: Any) -> Any:
    return compile_expression(source).evaluate(variables)


# Interpolation


def test_event_references_become_literals_and_async_references_stay() -> None:
    event = {"data": {"id": 7, "name": "ab_1", "value": 1295.0}}
    assert interpolate("event.data.id == async.data.id", {"event": event}) == "7 == async.data.id"
    assert (
        interpolate(
            "event.data.name == async.data.id && async.data.v <= event.data.value", {"event": event}
        )
        == '"ab_1" == async.data.id && async.data.v <= 1295.0'
    )


def test_an_expression_without_event_references_is_unchanged() -> None:
    source = 'async.data.correlation_id == "run.step"'
    assert interpolate(source, {"event": {"data": {}}}) == source


def test_a_missing_event_field_becomes_null_as_in_go() -> None:
    # Go: `event.data.foo == async.data.foo` with no foo becomes `async.data.foo == null`.
    interpolated = interpolate("event.data.foo == async.data.foo", {"event": {"data": {}}})
    assert interpolated == "null == async.data.foo"
    assert evaluate(interpolated, **{"async": {"data": {"foo": 1}}}) is False
    assert evaluate(interpolated, **{"async": {"data": {}}}) is True  # both lack it: Go matches


def test_strings_are_quoted_and_escaped_so_no_value_injects_syntax() -> None:
    tricky = 'say "hi" \\ \' \n\t\x00 é 😀 \u2028 || true'
    interpolated = interpolate("event.data.s == async.data.s", {"event": {"data": {"s": tricky}}})
    assert interpolated.endswith(" == async.data.s")
    assert evaluate(interpolated, **{"async": {"data": {"s": tricky}}}) is True
    assert evaluate(interpolated, **{"async": {"data": {"s": "other"}}}) is False


def test_string_literals_in_the_source_are_never_touched() -> None:
    source = "'event.data.id' == async.data.id && \"event.data.id\" == event.data.id"
    interpolated = interpolate(source, {"event": {"data": {"id": "x"}}})
    assert interpolated == '\'event.data.id\' == async.data.id && "event.data.id" == "x"'


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("event.data.items[0] == async.x", '"a" == async.x'),
        ("event['data']['id'] == async.x", "7 == async.x"),
        ("event.data.items[async.i] == 'a'", '["a", "b"][async.i] == \'a\''),
        ("event.data == async.data", '{"id": 7, "items": ["a", "b"], "n": (-1.5)} == async.data'),
        ("async.data.n > event.data.n", "async.data.n > (-1.5)"),
        ("event.data.items.exists(x, x == async.x)", '["a", "b"].exists(x, x == async.x)'),
        ("async.list.exists(event, event == 1)", "async.list.exists(event, event == 1)"),
        ("has(event.data.id) && has(event.data.nope)", "true && false"),
        ("has(async.data.id)", "has(async.data.id)"),
        ("event.data.items.size() > 1", '["a", "b"].size() > 1'),
        ("(event.data.id) == async.x", "7 == async.x"),
    ],
)
def test_interpolation_follows_paths_indexes_and_scopes(source: str, expected: str) -> None:
    event = {"data": {"id": 7, "items": ["a", "b"], "n": -1.5}}
    assert interpolate(source, {"event": event}) == expected


def test_interpolating_an_invalid_expression_raises() -> None:
    with pytest.raises(ExpressionInvalid):
        interpolate("event.data.id ==", {"event": {}})


# Round trip: evaluating the original with {event, async} is evaluating the interpolated
# expression with {async} alone, for any data in which the referenced event fields exist.

KEYS = ("a", "b", "c")
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
    | st.sampled_from(["", "x", "event.data.a", '"', "\\", "1"])
)
json_values = scalars | st.lists(scalars, max_size=3)
operators = st.sampled_from(["==", "!=", "<", "<=", ">", ">=", "+", "in"])


@st.composite
def terms(draw: st.DrawFn) -> str:
    left = f"event.data.{draw(st.sampled_from(KEYS))}"
    right = draw(st.sampled_from([f"async.data.{k}" for k in KEYS] + ["1", "'x'", "null", "2.5"]))
    if draw(st.booleans()):
        left, right = right, left
    term = f"{left} {draw(operators)} {right}"
    return draw(st.sampled_from([term, f"!({term})", f"({term}) == true", "has(event.data.a)"]))


@st.composite
def expressions(draw: st.DrawFn) -> str:
    parts = draw(st.lists(terms(), min_size=1, max_size=3))
    joined = parts[0]
    for part in parts[1:]:
        joined = f"{joined} {draw(st.sampled_from(['&&', '||']))} {part}"
    return joined


def same(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


@settings(max_examples=300, deadline=None)
@given(
    source=expressions(),
    event_data=st.fixed_dictionaries({k: json_values for k in KEYS}),
    async_data=st.dictionaries(st.sampled_from(KEYS), json_values),
)
def test_interpolation_preserves_the_result_for_any_data(
    source: str, event_data: dict[str, Any], async_data: dict[str, Any]
) -> None:
    event, candidate = {"data": event_data}, {"data": async_data}
    original = evaluate(source, event=event, **{"async": candidate})
    interpolated = interpolate(source, {"event": event})
    assert "event." not in interpolated.replace('"event.data.a"', "")
    assert same(evaluate(interpolated, **{"async": candidate}), original), interpolated


# Equality index


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("7 == async.data.id", [("data.id", 7)]),
        ("async.data.id == 7", [("data.id", 7)]),
        ('async.data.correlation_id == "run.step"', [("data.correlation_id", "run.step")]),
        ('"x" == async.data.id && async.data.n > 2', [("data.id", "x")]),
        (
            "async.a == 1 && (async.b == 'x' && async.c.d.e == true)",
            [("a", 1), ("b", "x"), ("c.d.e", True)],
        ),
        ("async.data.n == 7.0", [("data.n", 7)]),
        ("async.data.n == 7.5", [("data.n", 7.5)]),
        ("async.data.n == (-3)", [("data.n", -3)]),
        ("async.data.n == -3.0", [("data.n", -3)]),
        ("async.data.id == 'x' && (async.data.a == 1 || async.data.b == 2)", [("data.id", "x")]),
        ("async.data.id == 'x' || async.data.id == 'y'", None),
        ("async.data.id != 'x'", None),
        ("null == async.data.foo", None),
        ("async.data.id == async.data.other", None),
        ("async.data.id == [1]", None),
        ("event.data.id == 7", None),
        ("true", None),
        ("!(async.data.id == 'x')", None),
        ("async.data.id == 'x' ? true : false", None),
    ],
)
def test_equality_terms_of_a_top_level_conjunction_are_extracted(
    source: str, expected: list[tuple[str, Any]] | None
) -> None:
    assert equality_index(source) == expected


def test_values_that_are_equal_in_cel_index_under_the_same_key() -> None:
    assert index_value(7.0) == index_value(7) == 7
    assert type(index_value(7.0)) is int
    assert index_value(7.5) == 7.5
    assert index_value("7") == "7"
    assert index_value(True) is True
    assert index_value(None) is None
    assert index_value([7]) is None


index_terms = st.builds(
    lambda key, literal, reverse: (
        f"{literal} == async.data.{key}" if reverse else f"async.data.{key} == {literal}"
    ),
    st.sampled_from(KEYS),
    st.sampled_from(["1", "1.0", "2", "'x'", "true", "null", '"1"', "(-1)"]),
    st.booleans(),
)


@settings(max_examples=300, deadline=None)
@given(
    parts=st.lists(index_terms | terms(), min_size=1, max_size=4),
    joiners=st.lists(st.sampled_from(["&&", "&&", "||"]), min_size=3, max_size=3),
    event_data=st.fixed_dictionaries({k: json_values for k in KEYS}),
    async_data=st.dictionaries(st.sampled_from(KEYS), scalars),
)
def test_every_indexed_equality_holds_for_every_event_that_matches(
    parts: list[str], joiners: list[str], event_data: dict[str, Any], async_data: dict[str, Any]
) -> None:
    source = parts[0]
    for joiner, part in zip(joiners, parts[1:], strict=False):
        source = f"{source} {joiner} {part}"
    interpolated = interpolate(source, {"event": {"data": event_data}})
    if not compile_expression(interpolated).matches({"async": {"data": async_data}}):
        return
    for path, literal in equality_index(interpolated) or []:
        key = path.removeprefix("data.")
        assert key in async_data
        assert index_value(async_data[key]) == literal
