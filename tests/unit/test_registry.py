"""Which functions an event starts."""

from __future__ import annotations

from inlet.model import Event, Function, Trigger
from inlet.runs.registry import Registry


def fn(slug: str, *triggers: Trigger) -> Function:
    return Function(slug=slug, app_url="http://a", name=slug, url="http://a", triggers=triggers)


def ev(name: str, **data: object) -> Event:
    return Event(internal_id="01E", name=name, data=dict(data), id="01E", ts=1)


def slugs(registry: Registry, event: Event) -> list[str]:
    return sorted(f.slug for f in registry.match(event))


def test_an_event_starts_every_function_triggered_by_its_name() -> None:
    reg = Registry(
        [
            fn("a", Trigger(event="app/x")),
            fn("b", Trigger(event="app/x")),
            fn("c", Trigger(event="app/y")),
        ]
    )
    assert slugs(reg, ev("app/x")) == ["a", "b"]


def test_wildcards_match_after_a_slash_or_a_dot() -> None:
    reg = Registry(
        [
            fn("all", Trigger(event="app/*")),
            fn("user", Trigger(event="app/user.*")),
            fn("other", Trigger(event="billing/*")),
        ]
    )
    assert slugs(reg, ev("app/user.created")) == ["all", "user"]


def test_an_expression_filters_events() -> None:
    reg = Registry([fn("big", Trigger(event="app/x", expression="event.data.n > 1"))])
    assert slugs(reg, ev("app/x", n=2)) == ["big"]
    assert slugs(reg, ev("app/x", n=1)) == []


def test_a_missing_field_in_an_expression_is_no_match_not_an_error() -> None:
    reg = Registry([fn("big", Trigger(event="app/x", expression="event.data.n > 1"))])
    assert slugs(reg, ev("app/x")) == []


def test_a_function_with_several_matching_triggers_runs_once() -> None:
    reg = Registry([fn("a", Trigger(event="app/x"), Trigger(event="app/*"))])
    assert slugs(reg, ev("app/x")) == ["a"]
    assert len(reg.plan([ev("app/x")], 1.0)) == 1


def test_a_failure_handler_matches_only_its_functions_failures() -> None:
    handler = fn(
        "app-fn-failure",
        Trigger(event="inngest/function.failed", expression="event.data.function_id == 'app-fn'"),
    )
    reg = Registry([handler])
    assert slugs(reg, ev("inngest/function.failed", function_id="app-fn")) == ["app-fn-failure"]
    assert slugs(reg, ev("inngest/function.failed", function_id="app-other")) == []


def test_runs_are_keyed_by_the_event_id_so_a_repeat_starts_nothing_twice() -> None:
    reg = Registry([fn("a", Trigger(event="app/x"))])
    [run] = reg.plan([ev("app/x")], 1.0)
    assert run.key == "event:01E" and run.function_slug == "a"
