"""Which functions an event starts (PROTOCOL §8.3). Pure: built from a function list."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from inlet.expr import Expression, compile_expression
from inlet.ids import new_ulid
from inlet.model import Event, Function, NewRun

INVOKED = "inngest/function.invoked"


def _wildcard_prefixes(name: str) -> list[str]:
    """``app/user.created`` is matched by ``app/*`` and ``app/user.*``."""
    prefixes = []
    for i, ch in enumerate(name):
        if ch in "/.":
            prefixes.append(name[: i + 1] + "*")
    return prefixes


class Registry:
    """An immutable snapshot of the registered functions, indexed by trigger."""

    def __init__(self, functions: Iterable[Function]) -> None:
        self.functions: dict[str, Function] = {}
        self._by_name: dict[str, list[tuple[Function, Expression | None]]] = {}
        for fn in functions:
            self.functions[fn.slug] = fn
            for trigger in fn.triggers:
                if trigger.event is None:
                    continue
                expr = compile_expression(trigger.expression) if trigger.expression else None
                self._by_name.setdefault(trigger.event, []).append((fn, expr))

    def get(self, slug: str) -> Function | None:
        return self.functions.get(slug)

    def match(self, event: Event) -> list[Function]:
        """Functions this event starts; a function with several matching triggers once."""
        if event.name == INVOKED:
            return []
        candidates = list(self._by_name.get(event.name, ()))
        for prefix in _wildcard_prefixes(event.name):
            candidates.extend(self._by_name.get(prefix, ()))
        if not candidates:
            return []
        matched: dict[str, Function] = {}
        variables = None
        for fn, expr in candidates:
            if fn.slug in matched:
                continue
            if expr is not None:
                if variables is None:
                    variables = {"event": event.to_wire()}
                if not expr.matches(variables):
                    continue
            matched[fn.slug] = fn
        return list(matched.values())

    def plan(self, events: Sequence[Event], now: float) -> list[NewRun]:
        """One new run per (event, matching function). The key is the event's id, so a
        repeated event (same id) starts nothing twice."""
        runs = []
        for event in events:
            for fn in self.match(event):
                runs.append(
                    NewRun(
                        id=new_ulid(now),
                        function_slug=fn.slug,
                        event_ids=(event.internal_id,),
                        key=f"event:{event.id}",
                        due_at=now,
                    )
                )
        return runs
