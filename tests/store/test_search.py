"""Searching runs with an expression over their event and output, on every backend: the
matches newest first, keyset pages, and a bounded look that ends a page early."""

from __future__ import annotations

import pytest

from inlet.errors import InvalidValue
from inlet.model import Attempt, Event, Finish, NewRun, Outcome, RunStatus
from inlet.store import Store
from inlet.store.queries import RunFilter
from inlet.store.search import search_runs

NOW = 1_800_000_000.0
DAY = 86_400.0


async def finished_run(store: Store, n: int, model: str, vectors: int) -> str:
    at = NOW + n
    internal = f"01EVENT{n:019d}"
    ev = Event(internal, "app/embed", {"model": model}, internal, int(at * 1000), received_at=at)
    run = NewRun(f"01RUN{n:021d}", "app-embed", (internal,), f"event:{internal}", at)
    await store.ingest([ev], [run], at, DAY)
    [claim] = await store.claim(at, 1, at + 30, "w")
    attempt = Attempt(run.id, claim.item.id, "step", 0, at, at, "completed")
    done = Finish(RunStatus.COMPLETED, output={"vectors": vectors})
    assert await store.complete(claim, Outcome(attempt=attempt, finish=done), at, DAY)
    return run.id


async def test_an_expression_selects_runs_by_event_and_output(store: Store) -> None:
    ids = [
        await finished_run(store, n, "minilm" if n % 2 else "ada", 384 if n % 3 else 1536)
        for n in range(8)
    ]
    where = RunFilter(expression='event.data.model == "ada" && output.vectors == 384')
    page = await search_runs(store, where, limit=10)
    assert [r.id for r in page.runs] == [ids[4], ids[2]]
    assert page.next is None and page.searched == 8

    first = await search_runs(store, RunFilter(expression="output.vectors == 1536"), limit=1)
    assert [r.id for r in first.runs] == [ids[6]]
    rest = await search_runs(
        store, RunFilter(expression="output.vectors == 1536"), limit=5, after=first.next
    )
    assert [r.id for r in rest.runs] == [ids[3], ids[0]]


async def test_a_search_out_of_budget_ends_its_page_early_with_a_cursor(store: Store) -> None:
    ids = [await finished_run(store, n, "ada", 384) for n in range(6)]
    where = RunFilter(expression="output.vectors == 1")
    page = await search_runs(store, where, limit=10, budget=4)
    assert page.runs == () and page.searched == 4 and page.next == ids[2]
    last = await search_runs(store, where, limit=10, after=page.next, budget=4)
    assert last.runs == () and last.searched == 2 and last.next is None


async def test_a_broken_expression_is_refused_naming_it(store: Store) -> None:
    with pytest.raises(InvalidValue, match=r"output\.vectors =="):
        await search_runs(store, RunFilter(expression="output.vectors =="), limit=5)
