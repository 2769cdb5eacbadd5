"""A trigger's ``event.<path> == <literal>`` terms refuse an event without evaluating its
expression when the event's value differs; what an event starts and skips stays exactly
what evaluating every expression gives."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inlet.expr import Expression, compile_expression, equality_index
from inlet.model import Event, Function, Trigger
from inlet.runs.registry import Registry

EXPRESSIONS = [
    "event.data.fn == 3",
    "3 == event.data.fn",
    "event.data.fn == 3.0",
    "event.data.fn == -2",
    "event.data.fn == 2.5",
    "event.data.fn == 'a'",
    "event.data.fn == true",
    "event.data.fn == 1",
    "event.data.fn == 3 && event.data.k == 'x'",
    "(event.data.fn == 3) && event.data.n > 1",
    "event.data.n > 1 && event.data.fn == 'a'",
    "event.data.fn == 3 || event.data.k == 'x'",
    "event.data.fn != 3",
    "event.data.fn == null",
    "event.name == 'app/x' && event.data.fn == 1",
    "event.data.deep.fn == 3",
]

VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-4, max_value=4),
    st.sampled_from([3.0, 2.5, -2.0, 1.0, 0.5, 2**53 + 1, 9007199254740992.0]),
    st.sampled_from(["a", "x", "3", ""]),
    st.lists(st.integers(min_value=0, max_value=3), max_size=2),
    st.dictionaries(st.sampled_from(["fn"]), st.integers(min_value=2, max_value=4)),
)
DATA = st.dictionaries(st.sampled_from(["fn", "k", "n", "deep"]), VALUES, max_size=4)


def fn(slug: str, expression: str) -> Function:
    trigger = Trigger(event="app/x", expression=expression)
    return Function(slug=slug, app_url="http://a", name=slug, url="http://a", triggers=(trigger,))


def ev(data: dict[str, Any]) -> Event:
    return Event(internal_id="01E", name="app/x", data=data, id="01E", ts=1)


REGISTRY = Registry([fn(f"f{i}", source) for i, source in enumerate(EXPRESSIONS)])


@settings(max_examples=400, deadline=None)
@given(DATA)
def test_the_functions_started_and_skipped_are_those_evaluating_every_expression_gives(
    data: dict[str, Any],
) -> None:
    event = ev(data)
    variables = {"event": event.to_wire()}
    expected = [
        f"f{i}"
        for i, source in enumerate(EXPRESSIONS)
        if compile_expression(source).matches(variables)
    ]
    started, skips = REGISTRY.sort(event)
    assert [f.slug for f in started] == expected
    assert sorted(s.function_slug for s in skips) == sorted(
        f"f{i}" for i in range(len(EXPRESSIONS)) if f"f{i}" not in expected
    )
    for skip in skips:
        source = EXPRESSIONS[int(skip.function_slug[1:])]
        assert skip.reason == f"the trigger's expression was not true: {source}"


def evaluations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The sources of the expressions evaluated from now on, in order."""
    evaluated: list[str] = []
    real = Expression.matches

    def counting(self: Expression, variables: Any, **kwargs: Any) -> bool:
        evaluated.append(self.source)
        return real(self, variables, **kwargs)

    monkeypatch.setattr(Expression, "matches", counting)
    return evaluated


DECIDED = [
    "event.data.fn == 3",
    "3 == event.data.fn",
    "event.data.fn == 3.0",
    "event.data.fn == -2",
    "event.data.fn == 'a'",
    "event.data.fn == true",
    "event.data.fn == 1",
    "event.data.fn == 1 && event.data.fn == 1.0",
    "",
]
"""Triggers each decided by ``event.data.fn`` alone (or by nothing): the registry keeps
what an event starts by its value there."""
DECIDING = Registry([fn(f"d{i}", source) for i, source in enumerate(DECIDED)])


@settings(max_examples=400, deadline=None)
@given(st.lists(DATA, min_size=1, max_size=6))
def test_what_a_value_decides_is_kept_and_stays_what_evaluating_every_expression_gives(
    datas: list[dict[str, Any]],
) -> None:
    for data in datas:  # one registry across examples: later events find values kept
        event = ev(data)
        variables = {"event": event.to_wire()}
        expected = [
            f"d{i}"
            for i, source in enumerate(DECIDED)
            if not source or compile_expression(source).matches(variables)
        ]
        started, skips = DECIDING.sort(event)
        assert [f.slug for f in started] == expected
        assert sorted(s.function_slug for s in skips) == sorted(
            f"d{i}" for i in range(len(DECIDED)) if f"d{i}" not in expected
        )


def test_a_value_seen_before_is_decided_without_evaluating_any_expression(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registry = Registry([fn(f"listen-{k}", f"event.data.fn == {k}") for k in range(10)])
    evaluated = evaluations(monkeypatch)
    for data in ({"fn": 3}, {"fn": 3, "other": "x"}, {"fn": 3.0}, {"fn": 3}):
        started, skips = registry.sort(ev(data))
        assert [f.slug for f in started] == ["listen-3"] and len(skips) == 9
    # 3 once, 3.0 once (a float is tested each time, never kept): not once per event.
    assert evaluated == ["event.data.fn == 3", "event.data.fn == 3"]
    started, _ = registry.sort(ev({"fn": True}))  # equal to 1 in Python, not in CEL
    assert started == []


def test_a_trigger_with_another_term_keeps_nothing() -> None:
    registry = Registry(
        [fn(f"listen-{k}", f"event.data.fn == {k}") for k in range(5)]
        + [fn("mixed", "event.data.fn == 3 && event.data.n > 1")]
    )
    assert [f.slug for f in registry.sort(ev({"fn": 3, "n": 2}))[0]] == ["listen-3", "mixed"]
    assert [f.slug for f in registry.sort(ev({"fn": 3, "n": 0}))[0]] == ["listen-3"]


def test_an_event_whose_value_differs_from_the_constant_is_refused_without_evaluating(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registry = Registry([fn(f"listen-{k}", f"event.data.fn == {k}") for k in range(10)])
    evaluated = evaluations(monkeypatch)
    started, skips = registry.sort(ev({"fn": 3}))
    assert [f.slug for f in started] == ["listen-3"]
    assert len(skips) == 9
    assert evaluated == ["event.data.fn == 3"]


def test_a_trigger_s_equality_terms_are_read_under_event() -> None:
    assert equality_index("event.data.fn == 3 && event.data.k == 'x'", "event") == [
        ("data.fn", 3),
        ("data.k", "x"),
    ]
    assert equality_index("event.data.fn == 3") is None  # under async by default
    assert equality_index("event.data.fn == 3 || event.data.k == 'x'", "event") is None


def test_the_triggers_of_a_name_asked_again_are_the_same_past_the_kept_names() -> None:
    registry = Registry(
        [
            Function(
                slug=slug,
                app_url="http://a",
                name=slug,
                url="http://a",
                triggers=(Trigger(event=name),),
            )
            for slug, name in (
                ("exact", "app/user.created"),
                ("all", "app/*"),
                ("dot", "app/user.*"),
            )
        ]
    )
    first = [fn.slug for fn, _ in registry.listening("app/user.created")]
    registry.listening("app/user.created").clear()  # a caller's copy, not the snapshot's
    for n in range(5_000):  # more names than a snapshot keeps
        assert [fn.slug for fn, _ in registry.listening(f"app/n{n}")] == ["all"]
    assert [fn.slug for fn, _ in registry.listening("app/user.created")] == first
    assert first == ["exact", "all", "dot"]
    assert [f.slug for f in registry.match(ev({}))] == ["all"]


def test_a_batch_s_refusals_come_as_one_set_per_function_and_reason() -> None:
    registry = Registry([fn(f"listen-{k}", f"event.data.fn == {k}") for k in range(3)])
    events = [ev({"fn": n % 3}) for n in range(6)]
    events = [replace(e, internal_id=f"01EVENT{n:019d}") for n, e in enumerate(events)]

    runs, refused = registry.plan_and_skips(events, 1_800_000_000.0)

    assert [r.function_slug for r in runs] == [f"listen-{n % 3}" for n in range(6)]
    by_function = {s.function_slug: s for s in refused}
    assert len(refused) == 3 and sorted(by_function) == ["listen-0", "listen-1", "listen-2"]
    for k in range(3):
        assert by_function[f"listen-{k}"].reason == (
            f"the trigger's expression was not true: event.data.fn == {k}"
        )
        assert by_function[f"listen-{k}"].event_ids == tuple(
            e.internal_id for n, e in enumerate(events) if n % 3 != k
        )
