""" "Why didn't it run?": for one event, what happened with each function that listens to
its name: a run started, or it was skipped and why (the trigger's expression, a pause, a
flow-control gate and its key, a duplicate), recorded when the event arrived; and, for an
event no function listens to, the names that come closest to it.

Pure: the event's runs and skips (the store's ``event_detail``), the current registry
and the apps' sync errors come in; the verdicts go out, for the REST API, the dashboard
and ``inlet events show``.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from inlet.model import Event, Run, SkipRecord
from inlet.runs.registry import Registry
from inlet.steps.waits import INVOKED

Outcome = Literal["ran", "skipped", "no_record"]


@dataclass(frozen=True, slots=True)
class Verdict:
    function_slug: str
    outcome: Outcome
    reason: str
    run_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Why:
    verdicts: tuple[Verdict, ...]
    note: str | None = None
    """For an event no function listens to: that, and the nearest names."""


def explain(
    event: Event,
    runs: Sequence[Run],
    skips: Sequence[SkipRecord],
    registry: Registry,
    app_errors: Mapping[str, str] | None = None,
) -> Why:
    """What became of ``event`` for every function it concerns."""
    app_errors = app_errors or {}
    listening = list(dict.fromkeys(fn.slug for fn, _ in registry.listening(event.name)))
    if event.name == INVOKED:
        listening = list(dict.fromkeys(r.function_slug for r in runs))
    ran: dict[str, list[str]] = {}
    for run in runs:
        ran.setdefault(run.function_slug, []).append(run.id)
    skipped = {s.function_slug: s.reason for s in skips}
    verdicts = []
    for slug in dict.fromkeys([*listening, *ran, *skipped]):
        fn = registry.get(slug)
        gone = "" if fn is not None else " (the function is no longer registered)"
        if slug in ran:
            verdicts.append(Verdict(slug, "ran", "a run started" + gone, tuple(ran[slug])))
        elif slug in skipped:
            verdicts.append(Verdict(slug, "skipped", skipped[slug] + gone))
        else:
            reason = (
                "no record: the function was registered, or its trigger changed, after the "
                "event arrived"
            )
            error = app_errors.get(fn.app_url) if fn is not None else None
            if error:
                reason += f"; its app's last sync failed: {error}"
            verdicts.append(Verdict(slug, "no_record", reason))
    note = None
    if not verdicts:
        names = [n for n in registry.event_names() if not n.endswith("*")]
        near = difflib.get_close_matches(event.name, names, n=3, cutoff=0.6)
        note = f"no function listens to {event.name!r}"
        if near:
            note += "; the nearest names: " + ", ".join(repr(n) for n in near)
        elif not names:
            note += "; no function is registered: sync an app"
    return Why(tuple(verdicts), note)
