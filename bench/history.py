"""runs_page.py's large history: ``count`` runs of five functions over the 30 days before
now, one event, one attempt and one memo each, written in bulk (one executemany or COPY
per table, not through the engine) into a database brought to Inlet's schema."""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import psycopg

from inlet.ids import new_ulid
from inlet.store.relational import migrations, statements

APP_URL = "http://127.0.0.1:9/api/inngest"
DAY = 86_400.0
FUNCTIONS = (  # slug, share of the runs
    ("shop-send-receipt", 0.45),
    ("shop-sync-inventory", 0.25),
    ("shop-charge-card", 0.15),
    ("shop-nightly-report", 0.10),
    ("shop-refund", 0.05),
)
STATUSES = (  # status, share
    ("COMPLETED", 0.80),
    ("FAILED", 0.08),
    ("CANCELLED", 0.05),
    ("RUNNING", 0.04),
    ("QUEUED", 0.03),
)
ERRORS = (
    "upstream timeout after 30s calling the payments API",
    "card declined: insufficient funds",
    "warehouse returned 503 Service Unavailable",
    "validation failed: sku is required",
)
RARE = "zebra-quartz"
"""A word in the output of one run in 10,000: the text search's common case."""
ABSENT = "no-run-has-this-text"
"""In no run: the text search's worst case, every run read."""


@dataclass
class Fill:
    """What the filled database holds, for building the requests."""

    now: float
    runs: int
    seconds: float


def rows(count: int, now: float, seed: int = 7) -> Iterator[dict[str, Any]]:
    """``count`` runs, oldest first, spread over the 30 days before ``now``."""
    rng = random.Random(seed)
    slugs, slug_w = zip(*FUNCTIONS, strict=True)
    names, name_w = zip(*STATUSES, strict=True)
    start = now - 30 * DAY
    times = sorted(start + rng.random() * 30 * DAY for _ in range(count))
    for i, created in enumerate(times):
        slug = rng.choices(slugs, slug_w)[0]
        status = rng.choices(names, name_w)[0]
        run_id, event_id = new_ulid(created), new_ulid(created)
        output = error = None
        ended = None
        started = None if status == "QUEUED" else created + rng.random() * 2
        if status in ("COMPLETED", "FAILED", "CANCELLED"):
            ended = (started or created) + rng.expovariate(1 / 3.0)
        if status == "COMPLETED":
            note = f"order {i} shipped in {rng.randint(1, 9)} parcels"
            if i % 10_000 == 0:
                note += f" ({RARE})"
            output = {
                "ok": True,
                "order": f"ord_{i:08d}",
                "items": [{"sku": f"SKU-{rng.randint(1000, 9999)}", "qty": rng.randint(1, 5)}],
                "note": note,
            }
        elif status == "FAILED":
            message = rng.choice(ERRORS)
            error = {"name": "Error", "message": message, "stack": f"Error: {message}\n at step"}
        yield {
            "id": run_id,
            "slug": slug,
            "status": status,
            "created": created,
            "started": started,
            "ended": ended,
            "output": None if output is None else orjson.dumps(output),
            "error": None if error is None else orjson.dumps(error),
            "event_id": event_id,
            "event": orjson.dumps(
                {"name": f"shop/{slug}", "data": {"order": i}, "id": "", "ts": int(created * 1000)}
            ),
        }


def table_rows(runs: list[dict[str, Any]]) -> dict[str, tuple[list[str], list[tuple[Any, ...]]]]:
    """The columns and rows of each table, in the migrations' schema."""
    return {
        "events": (
            ["internal_id", "name", "body", "received_at"],
            [(r["event_id"], f"shop/{r['slug']}", r["event"], r["created"]) for r in runs],
        ),
        "runs": (
            [
                "id",
                "function_slug",
                "event_ids",
                "status",
                "created_at",
                "started_at",
                "ended_at",
                "output",
                "error",
                "request_version",
                "step_count",
            ],
            [
                (
                    r["id"],
                    r["slug"],
                    orjson.dumps([r["event_id"]]),
                    r["status"],
                    r["created"],
                    r["started"],
                    r["ended"],
                    r["output"],
                    r["error"],
                    1,
                    1,
                )
                for r in runs
            ],
        ),
        "event_runs": (["event_id", "run_id"], [(r["event_id"], r["id"]) for r in runs]),
        "attempts": (
            [
                "run_id",
                "item_id",
                "step_id",
                "attempt",
                "started_at",
                "ended_at",
                "outcome",
                "status_code",
                "name",
                "output",
                "error",
                "op_step",
            ],
            [
                (
                    r["id"],
                    r["id"],
                    "step",
                    0,
                    r["started"],
                    r["ended"],
                    "error" if r["error"] else "ok",
                    206,
                    "step",
                    r["output"],
                    r["error"] and r["error"].decode(),
                    "",
                )
                for r in runs
                if r["ended"] is not None and r["started"] is not None
            ],
        ),
        "memos": (
            ["run_id", "step_id", "seq", "value", "name", "op", "recorded_at"],
            [
                (
                    r["id"],
                    "load-order",
                    1,
                    orjson.dumps({"order": r["id"]}),
                    "load order",
                    "StepRun",
                    r["started"],
                )
                for r in runs
                if r["started"] is not None
            ],
        ),
    }


def functions_rows() -> tuple[tuple[Any, ...], list[tuple[Any, ...]]]:
    app = (APP_URL, "shop", "js:v3", "", "bench", 0.0, None)
    fns = [
        (
            slug,
            APP_URL,
            slug,
            f"{APP_URL}?fnId={slug}",
            orjson.dumps([{"event": f"shop/{slug}"}]),
            3,
            orjson.dumps({"id": slug}),
        )
        for slug, _ in FUNCTIONS
    ]
    return app, fns


APP_COLUMNS = "(url, app_id, sdk, framework, checksum, synced_at, error)"
"""Named, so a column added by a later migration leaves the fill working."""


def fill_sqlite(path: Path, count: int, now: float) -> Fill:
    t0 = time.monotonic()
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    for version, sql in migrations("sqlite"):
        for statement in statements(sql):
            db.execute(statement)
        db.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
    runs = list(rows(count, now))
    app, fns = functions_rows()
    db.execute("BEGIN")
    db.execute(f"INSERT INTO apps {APP_COLUMNS} VALUES (?, ?, ?, ?, ?, ?, ?)", app)
    db.executemany("INSERT INTO functions VALUES (?, ?, ?, ?, ?, ?, ?)", fns)
    for table, (cols, values) in table_rows(runs).items():
        marks = ", ".join("?" * len(cols))
        db.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})", values)
    db.execute("COMMIT")
    db.close()
    return Fill(now, count, time.monotonic() - t0)


def fill_postgres(url: str, count: int, now: float) -> Fill:
    t0 = time.monotonic()
    runs = list(rows(count, now))
    app, fns = functions_rows()
    with psycopg.connect(url) as conn:
        conn.execute(f"INSERT INTO apps {APP_COLUMNS} VALUES (%s, %s, %s, %s, %s, %s, %s)", app)
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO functions VALUES (%s, %s, %s, %s, %s, %s, %s)", fns)
            for table, (cols, values) in table_rows(runs).items():
                with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                    for value in values:
                        copy.write_row(value)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return Fill(now, count, time.monotonic() - t0)
