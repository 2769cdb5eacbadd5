"""What each event of a page led to: the runs it started and the functions that skipped
it, for a list of events in one read (the dashboard's events page). Its backends:
``memory_outcomes.py`` and ``sql/outcomes.py``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from inlet.model import Run, SkipRecord

MAX_OUTCOME_EVENTS = 1000
"""The most events one ``event_outcomes`` read looks at (a page of events, at most)."""


@dataclass(frozen=True, slots=True)
class EventOutcome:
    """The runs an event started (by id) and the recorded skips of the functions that did
    not run for it (by function)."""

    runs: tuple[Run, ...] = ()
    skips: tuple[SkipRecord, ...] = ()


def outcomes_of(
    event_ids: Sequence[str],
    runs: Sequence[tuple[str, Run]],
    skips: Sequence[SkipRecord],
) -> dict[str, EventOutcome]:
    """Every id of ``event_ids`` with its ``(event id, run)`` pairs and skips, sorted."""
    found: dict[str, tuple[list[Run], list[SkipRecord]]] = {e: ([], []) for e in event_ids}
    for event_id, run in runs:
        if event_id in found:
            found[event_id][0].append(run)
    for skip in skips:
        if skip.event_id in found:
            found[skip.event_id][1].append(skip)
    return {
        e: EventOutcome(
            tuple(sorted(r, key=lambda run: run.id)),
            tuple(sorted(s, key=lambda skip: skip.function_slug)),
        )
        for e, (r, s) in found.items()
    }


def wanted(event_ids: Sequence[str]) -> list[str]:
    """``event_ids`` without repeats, at most :data:`MAX_OUTCOME_EVENTS` of them."""
    return list(dict.fromkeys(event_ids))[:MAX_OUTCOME_EVENTS]
