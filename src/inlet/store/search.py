"""Searching runs with an expression over what they were given and what they gave back:
``event.data.model == "gpt-4o" && output.vectors < 384``, as on the dashboard's runs page
and ``GET /v1/runs?expr=``.

No index serves such a condition, so the search reads the runs the rest of the filter
selects, newest first, a chunk at a time, and evaluates the expression on each (variables
``event`` (the first event), ``events``, ``output``, ``error``, ``status``, ``function``).
It looks at no more than ``budget`` runs per page: a page that is not full by then ends
early with a cursor at the last run looked at, so a caller can go on searching, and a
search over a million runs never holds a request for long.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Final

from inlet.expr import compile_expression
from inlet.model import Event, Run
from inlet.store.queries import Page, ReadModel, RunFilter, page_size

CHUNK: Final = 200
"""Runs read per look at the store."""
BUDGET: Final = 5000
"""Most runs one page of a search looks at."""


def variables(run: Run, events: list[Event]) -> dict[str, Any]:
    wire = [e.to_wire() for e in events]
    return {
        "event": wire[0] if wire else None,
        "events": wire,
        "output": run.output,
        "error": run.error,
        "status": run.status.v1_name,
        "function": run.function_slug,
    }


async def search_runs(
    store: ReadModel,
    where: RunFilter,
    *,
    limit: int = 50,
    after: str | None = None,
    now: float | None = None,
    budget: int = BUDGET,
) -> Page:
    """The runs ``where`` selects whose ``where.expression`` is true, newest first."""
    if where.expression is None:
        return await store.runs(where, limit=limit, after=after)
    expression = compile_expression(where.expression)
    size = page_size(limit)
    plain = replace(where, expression=None)
    found: list[Run] = []
    searched = 0
    cursor = after
    events: dict[str, Event | None] = {}
    while searched < budget:
        chunk = await store.runs(plain, limit=min(CHUNK, budget - searched), after=cursor)
        for run in chunk.runs:
            searched += 1
            for event_id in run.event_ids:
                if event_id not in events:
                    events[event_id] = await store.get_event(event_id)
            given = [e for e in (events[i] for i in run.event_ids) if e is not None]
            if expression.matches(variables(run, given), now=now):
                found.append(run)
                if len(found) > size:
                    return Page(tuple(found[:size]), found[size - 1].id, searched)
            cursor = run.id
        if chunk.next is None:
            return Page(tuple(found), None, searched)
    # Out of budget: the page ends here, and the next one searches on from this run.
    return Page(tuple(found), cursor, searched)
