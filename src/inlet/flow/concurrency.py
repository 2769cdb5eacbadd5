"""Concurrency at claim time: which ready queue items may start now (docs/protocol.md §9).

Concurrency limits count call requests in progress, not live runs: a sleeping or waiting
run holds nothing. Each queue item carries the ``(key, limit)`` pairs of its run
(:func:`~inlet.flow.keys.concurrency_keys`, at most two plus whatever the store adds,
e.g. a global worker key). The store hands :func:`select` the ready items in queue
order (due time adjusted by priority), the number of requests in flight per key, and how
many it can start; :func:`select` picks greedily in that order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Candidate:
    """A ready queue item: its id and the ``(key, limit)`` pairs it counts against."""

    id: str
    keys: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class Selection:
    """What :func:`select` picked, in queue order, and which keys are full.

    A key is in ``full_keys`` when, after the picks, its in-flight count reached the
    limit of some examined candidate carrying it; the store can park that key's other
    items until a request holding the key finishes.
    """

    picked: tuple[Candidate, ...]
    full_keys: frozenset[str]


def select(
    candidates: Sequence[Candidate], in_flight: Mapping[str, int], capacity: int
) -> Selection:
    """Pick up to ``capacity`` candidates, in order, without exceeding any key's limit.

    A candidate is picked when, for each of its pairs, the requests in flight for the key
    plus those already picked with it stay below the candidate's limit; otherwise it is
    passed over and later candidates are still considered (an item blocked on one key
    does not hold back items of other keys). Within one key order is kept: counts only
    grow during a selection, so a key that turns a candidate away turns away every later
    candidate declaring the same or a smaller limit for it. Candidates are examined until
    ``capacity`` picks are made.
    """
    counts: dict[str, int] = {}
    picked: list[Candidate] = []
    limits_seen: dict[str, int] = {}

    def held(key: str) -> int:
        return in_flight.get(key, 0) + counts.get(key, 0)

    for candidate in candidates:
        if len(picked) >= capacity:
            break
        for key, limit in candidate.keys:
            limits_seen[key] = min(limit, limits_seen.get(key, limit))
        if all(held(key) < limit for key, limit in candidate.keys):
            picked.append(candidate)
            for key in {key for key, _ in candidate.keys}:
                counts[key] = counts.get(key, 0) + 1
    full = frozenset(key for key, limit in limits_seen.items() if held(key) >= limit)
    return Selection(picked=tuple(picked), full_keys=full)
