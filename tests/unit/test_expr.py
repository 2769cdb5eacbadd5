"""Evaluating expressions with Inngest's rules (docs/protocol.md §8).

Expected values follow the Go server (``pkg/expressions``: ``unknown.go`` for unknowns,
nulls, coercion and truthiness, ``exprenv/overloads.go`` for the extra functions) and the
cases of its ``expressions_test.go``.

Cost per call, measured on the development machine (CPython 3.11, ``timeit``, 100,000
calls, a 9-field event with a 20-item list):

====================================================  =========  ==============================
expression                                            Inlet      celpy 0.5 InterpretedRunner
====================================================  =========  ==============================
``event.data.n > 1``                                  1.3 µs     183 µs + 270 µs json_to_cel
``event.data.function_id == 'app-fn'``                1.3 µs     106 µs + 310 µs json_to_cel
``"x" == async.data.id`` (interpolated)               1.2 µs     106 µs + 190 µs json_to_cel
``… > 1 && … == 'app-fn' || list.exists(x, x == 19)``  3.6 µs     —
====================================================  =========  ==============================

celpy's ``CompiledRunner`` is faster (38-47 µs) but cannot run ``async.…`` (it transpiles
to Python, where ``async`` is a keyword). Hence: celpy parses (≈400 µs, once per distinct
expression, cached), Inlet's closures evaluate, reading the event in place.
"""

from __future__ import annotations

import datetime
from typing import Any

import celpy
import pytest
from celpy.adapter import json_to_cel

from inlet.expr import Expression, ExpressionInvalid, compile_expression

NOW = 1_700_000_000.0  # 2023-11-14T22:13:20Z


def value(source: str, now: float | None = NOW, **variables: Any) -> Any:
    return compile_expression(source).evaluate(variables, now=now)


def matches(source: str, **variables: Any) -> bool:
    return compile_expression(source).matches(variables, now=NOW)


def data(**fields: Any) -> dict[str, Any]:
    return {"name": "app/x", "data": fields}


# Missing fields ("unknowns" in Go)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("event.data.missing == 'x'", False),
        ("event.data.missing == 1", False),
        ("event.data.missing != 'x'", True),  # Go: unknown != anything but null is true
        ("event.data.missing == null", True),  # unknown compares equal to null
        ("event.data.missing != null", False),
        ("event.data.missing > 1", False),  # unknown is not greater…
        ("event.data.missing >= 1", False),
        ("event.data.missing < 1", True),  # …and is less than anything
        ("event.data.missing <= 1", True),
        ("1 > event.data.missing", True),
        ("1 < event.data.missing", False),
        ("event.data.n > event.data.missing", True),
        ("event.data.missing.deeper.still == 'x'", False),
        ("event.data.n.not_a_map == 2", False),
        ("size(event.data.missing) == 0", True),
        ("event.data.missing.contains('x')", False),
        ("lowercase(event.data.missing) == 'x'", False),
        ("event.data.missing in ['a', 'b'] == false", True),
        ("event.missing_root_field == 'x'", False),
        ("nothing.at.all == 'x'", False),
    ],
)
def test_a_missing_field_gives_inngests_fixed_answer_instead_of_an_error(
    source: str, expected: bool
) -> None:
    assert value(source, event=data(n=2)) is expected


def test_a_missing_field_alone_is_no_value_and_no_match() -> None:
    assert value("event.data.missing", event=data()) is None
    assert not matches("event.data.missing", event=data())


def test_a_missing_key_by_index_is_a_missing_field() -> None:
    assert value("event.data['missing'] == 1", event=data()) is False
    assert value("event.data['n'] == 2", event=data(n=2)) is True
    assert value("event['data'].n != '' && event['data'].m != true", event=data(n="hi")) is True


def test_has_is_true_for_a_present_field_and_unknown_for_a_missing_one() -> None:
    # Go marks missing paths unknown before evaluation, has() included: so
    # !has(event.data.x) is not true when x is missing, in Inngest as here.
    assert value("has(event.data.n)", event=data(n=None)) is True
    assert value("has(event.data.x)", event=data()) is None
    assert value("!has(event.data.x)", event=data()) is False
    assert matches("has(event.data.a) && event.data.a", event=data(a=True))


def test_the_inngest_all_false_example_holds() -> None:
    source = (
        "!((has(event.data.a) && event.data.a) || (has(event.data.b) && event.data.b)"
        " || (has(event.data.c) && event.data.c))"
    )
    assert matches(source, event=data(a=False, b=False, c=False))
    assert not matches(source, event=data(a=True, b=False, c=False))


# Nulls


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("event.data.nope == null", True),
        ("event.data.nope != null", False),
        ("event.data.nope == 'x'", False),
        ("event.data.nope != 'x'", True),
        ("null > 0", False),  # null compares as the other side's zero
        ("null < 1", True),
        ("event.data.float > null && event.data.int > null", True),
        ("event.data.float <= null && event.data.int < null", False),
        ("event.data.action > 0", False),
        ("size(event.data.nope) > 0", False),
    ],
)
def test_null_equals_only_null_and_orders_as_zero(source: str, expected: bool) -> None:
    event = data(nope=None, action=None, float=3.141, int=8)
    assert value(source, event=event) is expected


# Numbers


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("event.data.n > 1.5", True),
        ("event.data.n == 2.0", True),
        ("1 == 1.0", True),
        ("1 != 1.0", False),
        ("event.data.int > 3.141 && event.data.float <= 2", True),
        ("event.data.n in [1.0, 2.0]", True),
        ("[1, 2] == [1.0, 2.0]", True),
        ("{'a': 1} == {'a': 1.0}", True),
        ("1 == true", False),
        ("'1' == 1", False),
    ],
)
def test_ints_and_floats_compare_and_equal_by_value(source: str, expected: bool) -> None:
    assert value(source, event=data(n=2, int=8, float=1.111)) is expected


def test_json_numbers_keep_their_kind() -> None:
    assert value("event.data.n", event=data(n=2)) == 2
    assert type(value("event.data.n", event=data(n=2))) is int
    assert type(value("event.data.n", event=data(n=2.0))) is float
    assert type(value("event.data.n + 1", event=data(n=2))) is int
    assert value("event.data.n / 2", event=data(n=7)) == 3  # CEL int division truncates
    assert value("-7 / 2", event=data()) == -3
    assert value("-7 % 2", event=data()) == -1


def test_mixed_int_and_float_arithmetic_gives_a_float() -> None:
    # cel-go has no int + double; Go reads every JSON number as a double, so data + 1.5
    # works there, and promoting here keeps it working for JSON ints.
    assert value("event.data.n + 1.5", event=data(n=2)) == 3.5
    assert value("event.data.n * 0.5", event=data(n=3)) == 1.5


def test_integer_overflow_and_division_by_zero_fail() -> None:
    assert value("9223372036854775807 + 1") is None
    assert value("1 / 0") is None
    assert value("1 % 0") is None


def test_ordering_unrelated_kinds_fails_and_is_no_match() -> None:
    assert value("event.data.s < 5", event=data(s="a")) is None
    assert not matches("event.data.s < 5", event=data(s="a"))
    assert value("async.status == 200", **{"async": {"status": "200"}}) is False


# Concatenation


def test_adding_a_string_and_another_kind_concatenates_like_go() -> None:
    source = (
        "event.data.name + '-' + event.data.number + '-' + event.data.bool + '-'"
        " + event.data.list + '-' + event.data.obj + '-' + event.data.missing"
    )
    event = data(name="hi", number=9.1, bool=True, list=[3, "ok?", True], obj={"name": "inngest"})
    assert value(source, event=event) == "hi-9.1-true-[3 ok? true]-map[name:inngest]-"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("'a' + 1", "a1"),
        ("1 + 'a'", "1a"),
        ("'n=' + 2.0", "n=2"),
        ("'n=' + 1000000.0", "n=1e+06"),
        ("'n=' + 0.5", "n=0.5"),
        ("'x' + null", "xNULL_VALUE"),
        ("'a' + 'b'", "ab"),
        ("[1] + [2]", [1, 2]),
        ("event.data.name + '-' + event.data.foo", "Tester-"),
    ],
)
def test_concatenation_formats_values_with_gos_percent_v(source: str, expected: Any) -> None:
    assert value(source, event=data(name="Tester")) == expected


# Logical operators and truthiness


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("event.data.ingressId || event.data.userId", "IN_1"),
        ("event.data.ingressId || event.data.missing", "IN_1"),
        ("event.data.missing || event.data.userId", "u-1"),
        ("event.data.empty || event.data.userId", "u-1"),
        ("event.data.zero || event.data.userId", "u-1"),
        ("event.data.t || event.data.f", True),
        ("event.data.f || event.data.f", False),
        ("event.data.ingressId && event.data.userId", "u-1"),
        ("event.data.empty && event.data.userId", ""),
        ("event.data.f && event.data.missing", False),
        ("event.data.list || 'fallback'", []),  # like Go: an empty list is truthy
        ("event.data.missing ? 'yes' : event.data.userId", "u-1"),
        ("event.data.ingressId ? 'yes' : 'no'", "yes"),
    ],
)
def test_and_and_or_apply_javascript_truthiness_and_return_an_operand(
    source: str, expected: Any
) -> None:
    event = data(ingressId="IN_1", userId="u-1", empty="", zero=0, t=True, f=False, list=[])
    assert value(source, event=event) == expected


def test_both_operands_missing_is_no_value() -> None:
    assert value("event.data.a || event.data.b", event=data()) is None


def test_an_unknown_inside_a_conjunction_does_not_match() -> None:
    assert not matches("event.data.missing && true", event=data())
    assert matches("event.data.missing || true", event=data())
    assert matches("event.data.a == 1 || event.data.missing == 2 || true", event=data(a=2))


def test_matches_needs_a_boolean_true() -> None:
    assert not matches("'yes'", event=data())
    assert not matches("1", event=data())
    assert matches("true", event=data())


# Standard CEL


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("event.data.tags.exists(x, x == 'a')", True),
        ("event.data.tags.exists(x, x == 'd' || x == 'a')", True),
        ("event.data.tags.exists(x, x == 'd') == false", True),
        ("event.data.tags.all(x, size(x) == 1)", True),
        ("event.data.tags.exists_one(x, x > 'a')", False),
        ("event.data.tags.filter(x, x != 'b')", ["a", "c"]),
        ("event.data.tags.map(x, x + x)", ["aa", "bb", "cc"]),
        ("event.data.tags.map(x, x != 'a', x + '!')", ["b!", "c!"]),
        ("event.nonexistent.exists(x, x == 'a')", None),
        ("[1, 2, 3].all(x, x > 0) && event.status == '200'", True),
        ("size(event.data.tags) > 2", True),
        ("event.data.tags.size() == 3", True),
        ("size(event.data.none) == 0", True),
        ("'b' in event.data.tags", True),
        ("'k' in {'k': 1}", True),
        ("event.data.title.matches('^[a-z\\\\d]{0,10}$')", True),
        ("event.data.title.matches('o')", True),  # RE2 partial match
        ("event.data.title.startsWith('no') && event.data.title.endsWith('pe')", True),
        ("'hello'.contains('llo')", True),
        ("int(event.status) >= 200", True),
        ("double('1.5') == 1.5", True),
        ("string(12) == '12'", True),
        ("string(1.5) == '1.5'", True),
        ("bool('true')", True),
        ("dyn(1) == 1", True),
        ("event.data.tags[1]", "b"),
        ("event.data.tags[9] == 'x'", False),
        ("{'a': {'b': 1}}.a.b", 1),
        ("true ? 1 : 2", 1),
        ("!false", True),
        ("-event.data.n", -2),
        ("b'ab' == bytes('ab')", True),
        ("r'\\d' == '\\\\d'", True),
        ("'\\u00e9\\x41\\101' == 'éAA'", True),
        ("'''multi\nline''' == 'multi\\nline'", True),
        ("0x10 == 16", True),
        ("1u == 1", True),
        ("timestamp('2020-01-01T00:00:00Z') < timestamp('2021-01-01T00:00:00Z')", True),
        ("timestamp('2020-01-01T10:00:00Z').getHours() == 10", True),
        ("duration('90s') == duration('1m30s')", True),
    ],
)
def test_standard_cel_works(source: str, expected: Any) -> None:
    event = {"status": "200", "data": {"tags": ["a", "b", "c"], "title": "nope", "n": 2}}
    assert value(source, event=event) == expected


def test_a_comprehension_variable_shadows_a_variable_of_the_same_name() -> None:
    assert value("[1, 2].exists(event, event == 2)", event=data()) is True


def test_an_undeclared_function_compiles_and_evaluates_to_no_value() -> None:
    assert value("nosuchfn(1) == 1") is False
    assert value("nosuchfn(1)") is None


# Inngest's extra functions


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("uppercase(event.priority) == 'P1'", True),
        ("lowercase(event.name) == 'app/x'", True),
        ("uppercase(event.data.name) + ' is my name'", "TESTER is my name"),
        ("b64decode('aGkgdGhlcmUh') + ' - b64 data'", "hi there! - b64 data"),
        ("b64decode('not base64!') == ''", True),
        ("json_parse(b64decode(event.data.encoded)).nested.data == 'yea'", True),
        ("json_parse('[1, 2]') == {}", True),  # Go unmarshals into a map: not an object is {}
        ("json_parse('{\"n\": 2}').n == 2", True),
        ("date(event.from) + duration('6h35m10s') == date('2020-01-01T18:35:10')", True),
        ("date('2020-01-01') == timestamp('2020-01-01T00:00:00Z')", True),
        ("date('Wed, 01 Jan 2020 00:00:00 GMT') == date('2020-01-01')", True),
        ("date(1577836800) == date('2020-01-01')", True),  # seconds
        ("date(1577836800000) == date('2020-01-01')", True),  # milliseconds
        ("date(1577836800000000000) == date('2020-01-01')", True),  # nanoseconds
        ("date(12) == date('2020-01-01')", False),  # Go refuses ints before 2000
        ("date('not a date') < now()", True),  # a failed call orders as an unknown
        ("now() == date(1700000000)", True),
        ("now_plus('1h') == date(1700003600)", True),
        ("now_minus('1d') == date(1699913600)", True),
        ("now_plus('-1h') == now_minus('1h')", True),
        ("date(event.ts) > now_minus('1h')", True),
        ("now_plus('soon') > now()", False),
    ],
)
def test_inngests_extra_functions_work(source: str, expected: Any) -> None:
    event = {
        "name": "App/X",
        "priority": "p1",
        "from": "2020-01-01T12:00:00",
        "ts": 1_699_999_000_000,
        "data": {"name": "Tester", "encoded": "eyJuZXN0ZWQiOnsiZGF0YSI6InllYSJ9fQ=="},
    }
    assert value(source, event=event) == expected


def test_time_is_a_parameter_and_now_without_it_is_no_match() -> None:
    expression = compile_expression("date(event.ts) > now_minus('1h')")
    event = {"ts": 1_699_999_000_000}
    assert expression.matches({"event": event}, now=NOW)
    assert not expression.matches({"event": event}, now=NOW + 7200)
    assert not expression.matches({"event": event})
    assert expression.evaluate({"event": event}) is None
    assert value("now()", now=NOW) == datetime.datetime.fromtimestamp(NOW, datetime.UTC)


# The expressions SDKs generate


def test_the_expressions_sdks_generate_evaluate_as_expected() -> None:
    trigger = {"name": "app/x", "data": {"id": 7, "function_id": "app-fn"}}
    candidate = {"name": "app/y", "data": {"id": 7, "correlation_id": "run.step"}}
    both = {"event": trigger, "async": candidate}
    assert matches("event.data.id == async.data.id", **both)  # TS match: "data.id"
    assert matches("event.data.function_id == 'app-fn'", **both)
    assert matches('async.data.correlation_id == "run.step"', **both)
    assert not matches("event.data.id == async.data.id", event=trigger, **{"async": {"data": {}}})


# Compilation


def test_an_expression_is_compiled_once() -> None:
    assert compile_expression("event.data.a == 1") is compile_expression("event.data.a == 1")
    assert isinstance(compile_expression("event.data.a == 1"), Expression)


def test_an_invalid_expression_is_rejected_naming_it_and_where_it_fails() -> None:
    with pytest.raises(ExpressionInvalid) as caught:
        compile_expression("event.data.x == = 2")
    message = caught.value.message
    assert "'event.data.x == = 2'" in message
    assert "column 17" in message
    assert "\n  event.data.x == = 2\n                  ^" in message
    assert caught.value.code == "expression_invalid"
    assert caught.value.http_status == 400


@pytest.mark.parametrize(
    "source",
    [
        "has(event)",
        "has(1)",
        "event.data.tags.all(1, true)",
        "a.b{c: 1}",
        "'\\q'",
        "99999999999999999999",
    ],
)
def test_well_formed_but_meaningless_expressions_are_rejected(source: str) -> None:
    with pytest.raises(ExpressionInvalid, match="invalid expression"):
        compile_expression(source)


# Agreement with celpy's own evaluator where CEL and Inngest agree (no missing fields,
# no mixed kinds): the evaluator here is a re-implementation, celpy the reference.


@pytest.mark.parametrize(
    "source",
    [
        "event.data.n > 1 && event.data.s == 'abc'",
        "event.data.n * 3 - 1 == 5",
        "event.data.s + 'd' == 'abcd'",
        "event.data.f / 2.0 > 0.7",
        "event.data.l.exists(x, x > 2) || event.data.l.all(x, x < 0)",
        "event.data.l.map(x, x * 2)",
        "event.data.l.filter(x, x % 2 == 1)",
        "size(event.data.s) + size(event.data.l)",
        "event.data.s.startsWith('a') ? 'yes' : 'no'",
        "event.data.m.k in event.data.l",
        "'k' in event.data.m",
        "!(event.data.n < 0) && -event.data.n == -2",
        "[event.data.n, event.data.s] == [2, 'abc']",
        "event.data.s < 'abd' && event.data.s >= 'abc'",
        "7 / -2 == -3 && 7 % -2 == 1",
        "int('42') + int(2.9)",
        "string(event.data.n) + string(event.data.s)",
    ],
)
def test_evaluation_agrees_with_celpy_on_strict_cel(source: str) -> None:
    event = {"data": {"n": 2, "s": "abc", "f": 1.5, "l": [1, 2, 3], "m": {"k": 3}}}
    reference = celpy.Environment()
    expected = reference.program(reference.compile(source)).evaluate({"event": json_to_cel(event)})
    assert value(source, event=event) == expected
