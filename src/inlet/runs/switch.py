"""Which triggers listening to an event name an event can match, picked by its value at
one path rather than by testing each trigger in turn.

Many functions listening to one name often differ only by a literal their expression
requires at the same path (``event.data.fn == 3`` for each of W4's ten, a tenant or a
type for real apps). A trigger whose required literal differs from the event's value at
that path cannot match (``registry._may_match``), so for each literal the triggers are
laid out once: the ones to test, and the ones refused without a look. When every trigger
is decided by the value at that path (no expression, or equality terms at that path
alone), what an event starts and why it starts nothing else is the same for every event
with that value: the registry keeps it by value (``Switch.outcomes``).
"""

from __future__ import annotations

from collections.abc import Sequence

from inlet.expr import Expression, IndexValue, equality_paths
from inlet.model import Function

Candidate = tuple[Function, Expression | None]
Step = tuple[Function, Expression | None, bool]
"""A trigger in the order it is tested, and whether the event's value refuses it."""

MIN_TRIGGERS = 4
"""Fewer triggers requiring a literal at one path are tested in turn, as cheaply."""
MAX_OUTCOMES = 1024
"""Values whose outcome a switch keeps (the values are the senders' to choose)."""

Outcome = tuple[list[Function], dict[str, str]]
"""The functions an event starts, and the reason each other one refused it by slug."""
OutcomeKey = tuple[type, IndexValue]
"""A value by its type too: CEL tells ``1``, ``1.0`` and ``true`` apart where Python's
``==`` (and so a dict's key) may not."""


class Switch:
    """The triggers of one event name laid out by the literal they require at ``path``.

    ``plan(value)`` lists every trigger in its order, each marked refused when it requires
    a literal at ``path`` that is not equal to ``value`` (Python's ``==``, as
    ``_may_match`` compares: an int and a bool literal share a plan, and the evaluator
    tells them apart)."""

    __slots__ = ("_other", "_plans", "decided", "outcomes", "path")

    def __init__(
        self,
        path: str,
        candidates: Sequence[Candidate],
        literals: Sequence[list[IndexValue]],
        decided: bool = False,
    ) -> None:
        self.path = path
        self.decided = decided
        """Whether the value at ``path`` alone decides every trigger."""
        self.outcomes: dict[OutcomeKey, Outcome] = {}
        """The outcome for each value seen, if ``decided`` (up to :data:`MAX_OUTCOMES`)."""
        self._plans: dict[IndexValue, tuple[Step, ...]] = {}
        for wanted in literals:
            for literal in wanted:
                if literal not in self._plans:
                    self._plans[literal] = _layout(candidates, literals, literal)
        self._other = _layout(candidates, literals, None)

    def plan(self, value: IndexValue | None) -> tuple[Step, ...]:
        if value is None:
            return self._other
        return self._plans.get(value, self._other)


def _layout(
    candidates: Sequence[Candidate], literals: Sequence[list[IndexValue]], value: object
) -> tuple[Step, ...]:
    """Each trigger, refused when one literal it requires at the path is not ``value``
    (``None``: a value equal to no literal, or none at all)."""
    return tuple(
        (fn, expr, bool(wanted) and (value is None or any(lit != value for lit in wanted)))
        for (fn, expr), wanted in zip(candidates, literals, strict=True)
    )


def switch_for(
    candidates: Sequence[Candidate], required: dict[str, list[tuple[str, IndexValue]]]
) -> Switch | None:
    """The switch over the path most of ``candidates`` require a literal at, if at least
    :data:`MIN_TRIGGERS` do; ``required`` holds each expression's terms by source."""
    terms = [required[expr.source] if expr is not None else [] for _, expr in candidates]
    counts: dict[str, int] = {}
    for term in terms:
        for path in dict.fromkeys(p for p, _ in term):
            counts[path] = counts.get(path, 0) + 1
    if not counts:
        return None
    path = max(counts, key=lambda p: counts[p])
    if counts[path] < MIN_TRIGGERS:
        return None
    literals = [[lit for p, lit in term if p == path] for term in terms]
    decided = all(
        expr is None or equality_paths(expr.source, "event") == frozenset([path])
        for _, expr in candidates
    )
    return Switch(path, candidates, literals, decided)


def outcome_key(value: object) -> OutcomeKey | None:
    """``value`` as a key of ``Switch.outcomes``: strings, ints and bools (a float, a
    missing value or an object is tested each time)."""
    kind = type(value)
    return (kind, value) if kind is str or kind is int or kind is bool else None  # type: ignore[return-value]
