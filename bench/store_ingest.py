"""What storing W4's batches costs the SQLite store, in this process: W4's ten functions
(`listen-0` … `listen-9`, each `event.data.fn == k`) route batches of 100 events (the
registry's runs and refusals, made before the clock starts), then `Store.ingest` stores
them, `--together` batches at a time (the store thread writes calls that wait together in
one transaction, as the event API's concurrent requests do).

    .venv/bin/python bench/store_ingest.py [--batches 200] [--together 16] [--repeat 5]

Prints, for each repeat, the process CPU (the store thread's writes and the event loop's
hand-offs) and the wall time per event, then the medians; with `--statements`, the time
spent in each statement and in the commits per event (the calls timed from Python, so
with the GIL's waits). Each batch is routed a millisecond after the one before, so its ids
are stamped as a server's would be. Imports this checkout's `src`: a copy in another
worktree measures that tree (`docs/performance.md`).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import statistics
import sys
import tempfile
import time
from typing import Any

from procs import REPO

sys.path.insert(0, str(REPO / "src"))  # this checkout's, whichever the venv installed
import routing

from inlet.model import App, Event, NewRun, SkipSet
from inlet.store import relational, sqlite
from inlet.store.sql import tx
from inlet.store.sqlite import SQLiteStore

KEY_TTL = 86_400.0
Plan = tuple[list[Event], list[NewRun], list[SkipSet], float]


def plans(batches: int) -> list[Plan]:
    routes, out = routing.registry(), []
    for n in range(batches):
        now = time.time()
        events = routing.batch(now, n * routing.BATCH)
        runs, skips = routes.plan_and_skips(events, now)
        out.append((events, runs, skips, now))
        time.sleep(0.001)
    return out


def timed(spent: dict[str, float]) -> None:
    """Time each statement and commit of the store (by query name, or by the first words
    of a statement written for many rows)."""
    by_name = tx.SqlTx._x
    many = relational.RelationalStore.write_rows
    commit = sqlite._Transactions.commit

    def x(self: tx.SqlTx, name: str, args: Any = ()) -> Any:
        t = time.perf_counter()
        try:
            return by_name(self, name, args)
        finally:
            spent[name] += time.perf_counter() - t

    def write_rows(self: Any, db: Any, sql: str, rows: list[tuple[Any, ...]]) -> None:
        t = time.perf_counter()
        many(self, db, sql, rows)
        spent[" ".join(sql.split()[:3])] += time.perf_counter() - t

    def committed(self: Any) -> None:
        t = time.perf_counter()
        commit(self)
        spent["COMMIT"] += time.perf_counter() - t

    tx.SqlTx._x = x  # type: ignore[method-assign]
    relational.RelationalStore.write_rows = write_rows  # type: ignore[method-assign]
    sqlite._Transactions.commit = committed  # type: ignore[method-assign]


async def repeat(store: SQLiteStore, batches: list[Plan], together: int) -> tuple[float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    for i in range(0, len(batches), together):
        calls = [
            store.ingest(events, runs, now, KEY_TTL, skips=skips)
            for events, runs, skips, now in batches[i : i + together]
        ]
        await asyncio.gather(*calls)
    events = len(batches) * routing.BATCH
    return (time.process_time() - cpu) / events * 1e6, (time.perf_counter() - wall) / events * 1e6


async def run(opts: argparse.Namespace, spent: dict[str, float]) -> None:
    cpus, walls = [], []
    with tempfile.TemporaryDirectory(prefix="inlet-store-ingest-") as tmp:
        store = SQLiteStore(f"{tmp}/inlet.db")
        await store.open()
        try:
            functions = list(routing.registry().functions.values())
            await store.save_app(App(url="http://127.0.0.1:1", app_id="bench"), functions)
            for r in range(opts.repeat):
                batches = plans(opts.batches)
                cpu, wall = await repeat(store, batches, opts.together)
                cpus.append(cpu)
                walls.append(wall)
                print(f"repeat {r + 1}: {cpu:.1f} us CPU, {wall:.1f} us wall an event")
        finally:
            await store.close()
    print(
        f"median of {opts.repeat}: {statistics.median(cpus):.1f} us CPU,"
        f" {statistics.median(walls):.1f} us wall an event"
    )
    events = opts.repeat * opts.batches * routing.BATCH
    for name, seconds in sorted(spent.items(), key=lambda kv: -kv[1]):
        print(f"  {seconds / events * 1e6:6.2f} us an event  {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--together", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--statements", action="store_true", help="time each statement")
    opts = parser.parse_args()
    spent: dict[str, float] = collections.defaultdict(float)
    if opts.statements:
        timed(spent)
    asyncio.run(run(opts, spent))


if __name__ == "__main__":
    main()
