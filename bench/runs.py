"""The runs a benchmark started, looked up over Inlet's API: one event's run, a sweep that
polls only the unfinished ones, bounded concurrency for the look-ups."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
from procs import BenchError, Endpoints, get_json, parse_iso

TERMINAL = frozenset({"Completed", "Failed", "Cancelled"})

T = TypeVar("T")


async def bounded_gather(
    items: Iterable[T], fn: Callable[[T], Awaitable[Any]], concurrency: int
) -> list[Any]:
    sem = asyncio.Semaphore(concurrency)

    async def one(item: T) -> Any:
        async with sem:
            return await fn(item)

    return await asyncio.gather(*(one(i) for i in items))


@dataclass(frozen=True)
class Run:
    event_id: str
    status: str
    started_at: float | None
    ended_at: float | None


async def fetch_run(session: aiohttp.ClientSession, ep: Endpoints, event_id: str) -> Run | None:
    """The event's run, or None while the server has not created it yet."""
    body = await get_json(session, f"{ep.inlet}/v1/events/{event_id}/runs")
    runs = body.get("data") or []
    if not runs:
        return None
    r = runs[0]
    return Run(event_id, str(r.get("status")), parse_iso(r.get("run_started_at")),
               parse_iso(r.get("ended_at")))  # fmt: skip


async def sweep_runs(
    session: aiohttp.ClientSession,
    ep: Endpoints,
    event_ids: Iterable[str],
    concurrency: int,
    deadline: float,
    interval: float = 0.2,
) -> dict[str, Run]:
    """Poll only the events whose run is not finished, until all are or `deadline` passes.

    Returns the last seen run per event; events never seen finished keep their last state.
    """
    pending = set(event_ids)
    seen: dict[str, Run] = {}
    errors: list[str] = []

    async def look(event_id: str) -> None:
        try:
            run = await fetch_run(session, ep, event_id)
        except (TimeoutError, aiohttp.ClientError, BenchError) as exc:
            errors.append(str(exc) or type(exc).__name__)
            return
        if run is None:
            return
        seen[event_id] = run
        if run.status in TERMINAL and (run.ended_at is not None or run.status != "Completed"):
            pending.discard(event_id)

    while pending and time.monotonic() < deadline:
        await bounded_gather(list(pending), look, concurrency)
        if pending:
            await asyncio.sleep(interval)
    if pending and errors:
        print(f"{len(errors)} run look-ups failed; the last: {errors[-1]}", file=sys.stderr)
    return seen


async def any_unfinished(
    session: aiohttp.ClientSession, ep: Endpoints, event_ids: list[str], concurrency: int
) -> bool:
    runs = await bounded_gather(event_ids, lambda e: fetch_run(session, ep, e), concurrency)
    return any(r is None or r.status not in TERMINAL for r in runs)


async def timer_times(
    session: aiohttp.ClientSession, ep: Endpoints, run_ids: list[str], concurrency: int = 16
) -> dict[str, float | None]:
    """Per run, from `GET /v1/runs/{id}/history`: when the server fired the sleep's timer
    (the `timer` attempt's start; the server records milliseconds)."""
    sem = asyncio.Semaphore(concurrency)
    out: dict[str, float | None] = {}

    async def one(run_id: str) -> None:
        async with sem:
            with contextlib.suppress(TimeoutError, aiohttp.ClientError, BenchError):
                body = await get_json(session, f"{ep.inlet}/v1/runs/{run_id}/history")
                timer = [a for a in body.get("data") or [] if a.get("outcome") == "timer"]
                out[run_id] = parse_iso(timer[0].get("started_at")) if timer else None

    await asyncio.gather(*(one(r) for r in run_ids))
    return out
