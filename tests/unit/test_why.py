"""'Why didn't it run?': one verdict per function listening to an event's name, each
kind of skip named, and the nearest names for an event nobody listens to."""

from __future__ import annotations

from inlet.model import Event, Function, Run, RunStatus, SkipRecord, Trigger
from inlet.runs.registry import Registry
from inlet.runs.why import explain


def fn(slug: str, event: str, expression: str | None = None, app: str = "http://a") -> Function:
    return Function(
        slug, app, slug, f"{app}?fnId={slug}", (Trigger(event=event, expression=expression),)
    )


def event(name: str, **data: object) -> Event:
    return Event("01EVENT", name, dict(data), "e1", 0)


REGISTRY = Registry(
    [
        fn("embed", "docs/uploaded"),
        fn("big-only", "docs/uploaded", "event.data.size > 100"),
        fn("paused-one", "docs/uploaded"),
        fn("late", "docs/uploaded", app="http://b"),
        fn("cleanup", "docs/deleted"),
    ]
)


def test_each_function_listening_gets_its_verdict() -> None:
    ev = event("docs/uploaded", size=3)
    runs = [Run("01RUN", "embed", ("01EVENT",), RunStatus.COMPLETED, 0.0)]
    matched, refused = REGISTRY.sort(ev)
    skips = [*refused, SkipRecord("01EVENT", "paused-one", "function paused")]
    why = explain(ev, runs, skips, REGISTRY, {"http://b": "connection refused"})

    verdicts = {v.function_slug: v for v in why.verdicts}
    assert [f.slug for f in matched] == ["embed", "paused-one", "late"]
    assert verdicts["embed"].outcome == "ran" and verdicts["embed"].run_ids == ("01RUN",)
    assert verdicts["big-only"].outcome == "skipped"
    assert "expression was not true: event.data.size > 100" in verdicts["big-only"].reason
    assert verdicts["paused-one"].reason == "function paused"
    assert verdicts["late"].outcome == "no_record"
    assert "last sync failed: connection refused" in verdicts["late"].reason
    assert "cleanup" not in verdicts and why.note is None


def test_a_skip_for_a_function_since_removed_says_so() -> None:
    ev = event("docs/uploaded")
    why = explain(ev, [], [SkipRecord("01EVENT", "gone", "rate limited")], Registry([]))
    [verdict] = why.verdicts
    assert verdict.reason == "rate limited (the function is no longer registered)"


def test_an_event_nobody_listens_to_names_the_nearest_names() -> None:
    why = explain(event("docs/uplaoded"), [], [], REGISTRY)
    assert why.verdicts == ()
    assert why.note == (
        "no function listens to 'docs/uplaoded'; the nearest names: 'docs/uploaded', 'docs/deleted'"
    )
    assert explain(event("x"), [], [], Registry([])).note == (
        "no function listens to 'x'; no function is registered: sync an app"
    )
