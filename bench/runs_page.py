"""The runs list at scale: GET /v1/runs, its counts and a function's statistics over a
large history, timed over loopback HTTP, with the SQL statements each request ran.

    .venv/bin/python bench/runs_page.py [--runs 100000] [--database sqlite|postgres|both]

Per database: a fresh one brought to Inlet's schema by its own migrations, filled in
bulk (one executemany/COPY per table, not through the engine) with ``--runs`` runs of
five functions over the last 30 days, one event, one attempt and one memo each. Then
Inlet's app (``create_app``, as ``inlet dev`` builds it: no token) is served by uvicorn
in this process on a free 127.0.0.1 port, and each request below is sent ``--repeat``
times over one keep-alive aiohttp session after a warm-up; median and p95 (nearest
rank) are printed. Statements per request are counted on one further request: SQLite
through ``set_trace_callback`` on the store's connection, PostgreSQL through
pg_stat_statements (BEGIN and COMMIT included). PostgreSQL is tests/pgserver.py's
throwaway durable server, as for bench/steps.py, stopped by its PID at the end; its
tables are VACUUM ANALYZEd after the fill, as autovacuum would do after such a load.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import psycopg
import uvicorn
from procs import REPO, BenchError, nearest_rank

sys.path.insert(0, str(REPO / "tests"))
from history import ABSENT, DAY, FUNCTIONS, RARE, Fill, fill_postgres, fill_sqlite

from inlet.config import Settings
from inlet.server import create_app
from inlet.store import Store, open_store
from inlet.store.relational import RelationalStore
from ports import free_port

HOST = "127.0.0.1"


def requests(fill: Fill) -> list[tuple[str, str]]:
    """(label, path) of every timed request; ``{deep}`` is page 50's cursor."""
    now, fn = fill.now, FUNCTIONS[2][0]
    return [
        ("first page", "/v1/runs"),
        ("page 50 (cursor)", "/v1/runs?cursor={deep}"),
        ("function", f"/v1/runs?function={fn}"),
        ("status FAILED", "/v1/runs?status=FAILED"),
        ("status QUEUED,RUNNING", "/v1/runs?status=QUEUED,RUNNING"),
        ("status COMPLETED,FAILED", "/v1/runs?status=COMPLETED,FAILED"),
        ("status+function", f"/v1/runs?status=FAILED&function={fn}"),
        ("last 2 hours", f"/v1/runs?since={now - 2 * 3600:.0f}"),
        ("day 20 days ago", f"/v1/runs?since={now - 20 * DAY:.0f}&until={now - 19 * DAY:.0f}"),
        ("first day of 30", f"/v1/runs?until={now - 29 * DAY:.0f}"),
        ("text, common", "/v1/runs?q=timeout"),
        ("text, 1 in 10k", f"/v1/runs?q={RARE}"),
        ("text, no match", f"/v1/runs?q={ABSENT}"),
        ("text+function", f"/v1/runs?q=declined&function={fn}"),
        ("counts", "/v1/runs/counts"),
        ("counts, function", f"/v1/runs/counts?function={fn}"),
        ("counts, last day", f"/v1/runs/counts?since={now - DAY:.0f}"),
        ("stats, last day", f"/v1/functions/{FUNCTIONS[0][0]}/stats"),
        (
            "stats, 30 days",
            f"/v1/functions/{FUNCTIONS[0][0]}/stats?since={now - 30 * DAY:.0f}&bucket=86400",
        ),
        # The dashboard's runs page: the same reads, plus counts and a page's attempts.
        ("dashboard runs page", "/ui/runs"),
        ("dashboard, status FAILED", "/ui/runs?status=FAILED"),
        ("dashboard, function", f"/ui/runs?function={fn}"),
    ]


class Counter:
    """Statements the database ran during one request."""

    def __init__(self, store: Store, pg_admin: str | None, dbname: str) -> None:
        self._n = 0
        self._texts: list[str] = []
        self._lock = threading.Lock()
        self._pg: psycopg.Connection[Any] | None = None
        self._dbname = dbname
        if pg_admin is not None:
            self._pg = psycopg.connect(pg_admin, autocommit=True)
            self._pg.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        else:
            assert isinstance(store, RelationalStore)
            db = store._sqlite  # type: ignore[attr-defined]
            db.set_trace_callback(self._traced)

    def _traced(self, statement: str) -> None:
        with self._lock:
            self._n += 1
            self._texts.append(" ".join(statement.split())[:90])

    def reset(self) -> None:
        if self._pg is not None:
            self._pg.execute("SELECT pg_stat_statements_reset()")
        with self._lock:
            self._n = 0
            self._texts = []

    def count(self) -> tuple[int, list[str]]:
        """The statements since ``reset`` and (the start of) each one's text."""
        if self._pg is None:
            return self._n, list(self._texts)
        found = self._pg.execute(
            "SELECT calls, query FROM pg_stat_statements"
            " WHERE dbid = (SELECT oid FROM pg_database WHERE datname = %s)",
            (self._dbname,),
        ).fetchall()
        texts = [f"{calls}x " + " ".join(str(q).split())[:90] for calls, q in found]
        return sum(int(calls) for calls, _ in found), texts

    def close(self) -> None:
        if self._pg is not None:
            self._pg.close()


async def get(session: aiohttp.ClientSession, url: str) -> tuple[float, dict[str, Any]]:
    t0 = time.perf_counter()
    async with session.get(url) as resp:
        body = await resp.read()
        if resp.status != 200:
            raise BenchError(f"GET {url}: {resp.status} {body[:300]!r}")
        html = resp.content_type == "text/html"
    elapsed = time.perf_counter() - t0
    # A dashboard page: its rows are the runs table's <tr> lines.
    return elapsed, {"data": [None] * body.count(b"<tr data-run=")} if html else orjson.loads(body)


async def measure(
    database_url: str,
    fill: Fill,
    repeat: int,
    counter_for: Callable[[Store], Counter],
    verbose: bool = False,
) -> list[tuple[str, float, float, int, int]]:
    """(label, median ms, p95 ms, statements, runs on the page) per request."""
    # The filled runs in flight have no queue items (no app serves them): the reaper would
    # revive them mid-measurement and its statements would be counted with the page's.
    # Retention off for the same reason, and to measure the history as filled.
    settings = Settings(
        host=HOST,
        port=free_port(),
        database_url=database_url,
        discovery=False,
        stuck_after=1e12,
        retention=0.0,  # the filled month of runs stays: retention would purge it meanwhile
    )
    store = open_store(settings)
    app = create_app(settings, store=store)
    config = uvicorn.Config(
        app, host=HOST, port=settings.port, log_level="warning", access_log=False, lifespan="on"
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    base = f"http://{HOST}:{settings.port}"
    results = []
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(200):
                if server.started:
                    break
                if serving.done():
                    serving.result()
                await asyncio.sleep(0.05)
            else:
                raise BenchError("the server did not start in 10 s")
            counter = counter_for(store)
            # Page 50: follow next_cursor from the first page.
            cursor = None
            for _ in range(49):
                _, body = await get(
                    session, base + "/v1/runs" + (f"?cursor={cursor}" if cursor else "")
                )
                cursor = body["metadata"]["next_cursor"]
            for label, path in requests(fill):
                url = base + path.replace("{deep}", str(cursor))
                await get(session, url)  # warm-up
                times = [(await get(session, url))[0] * 1000 for _ in range(repeat)]
                counter.reset()
                _, body = await get(session, url)
                await asyncio.sleep(0)
                n, texts = counter.count()
                shown = len(body["data"]) if isinstance(body.get("data"), list) else -1
                p95 = nearest_rank(times, 95) or 0.0
                results.append((label, statistics.median(times), p95, n, shown))
                print(
                    f"  {label:25s} median {statistics.median(times):8.1f} ms  "
                    f"p95 {p95:8.1f} ms  statements {n:3d}  rows {shown}",
                    flush=True,
                )
                if verbose or n != 1:
                    for text in texts:
                        print(f"      {text}")
            counter.close()
    finally:
        server.should_exit = True
        await serving
    return results


def run_sqlite(count: int, repeat: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="inlet-runs-page-"))
    try:
        path = tmp / "inlet.db"
        fill = fill_sqlite(path, count, time.time())
        size = os.path.getsize(path) / 1e6
        print(
            f"SQLite {sqlite3.sqlite_version}: {count} runs filled in {fill.seconds:.1f} s "
            f"({size:.0f} MB)",
            flush=True,
        )
        asyncio.run(measure(f"sqlite:///{path}", fill, repeat, lambda s: Counter(s, None, "")))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run_postgres(count: int, repeat: int) -> None:
    import pg  # bench/pg.py: the throwaway durable server with pg_stat_statements

    with pg.running() as cluster:
        url = cluster.new_database("runs_page")
        fill = fill_postgres(url, count, time.time())
        print(
            f"PostgreSQL {cluster.version()}: {count} runs filled in {fill.seconds:.1f} s",
            flush=True,
        )
        admin = cluster.server.url("postgres")
        asyncio.run(measure(url, fill, repeat, lambda s: Counter(s, admin, "runs_page")))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--runs", type=int, default=100_000)
    p.add_argument("--database", choices=("sqlite", "postgres", "both"), default="both")
    p.add_argument("--repeat", type=int, default=9, help="timed requests per query")
    a = p.parse_args()
    if a.runs < 3000 or a.repeat < 1:
        p.error("--runs must be at least 3000 (page 50 of 50) and --repeat at least 1")
    with contextlib.suppress(KeyboardInterrupt):
        if a.database in ("sqlite", "both"):
            run_sqlite(a.runs, a.repeat)
        if a.database in ("postgres", "both"):
            run_postgres(a.runs, a.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
