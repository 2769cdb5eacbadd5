"""The server of `bench/ingest_floor.py`: the least an event API must do per event to
accept W4's events durably in Inlet's design, and nothing else.

For each POST of a JSON array of events: parse it (orjson), give each event an internal
id, and in one SQLite transaction store the event, the run it starts (the function named
by its `data.fn`), that run's first queue item, its idempotency key and the event's link
to the run, as rows of Inlet's own schema (migrated by Inlet's migrations, so with the
same indexes), with the pragmas Inlet sets (WAL, `synchronous=NORMAL`); then answer with
the ids. It runs on the event loop itself (no store thread, no hand-off), matches no
trigger, checks no key, routes no waits, records no refusals, counts no metrics and runs
nothing: a floor below any event API that does that work. Served by uvicorn (uvloop,
httptools); the SQLite file is `INGEST_FLOOR_DB`.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from inlet.ids import new_ulid
from inlet.store.relational import migrations, statements

Message = dict[str, Any]

KEY_TTL = 86_400.0
EVENT = "INSERT INTO events (internal_id, name, body, received_at, skip_set) VALUES (?, ?, ?, ?, ?)"
RUN = (
    "INSERT INTO runs (id, function_slug, event_ids, status, created_at, priority, ckeys,"
    " singleton_key) VALUES (?, ?, ?, 'QUEUED', ?, 0, NULL, NULL)"
)
ITEM = (
    "INSERT INTO queue (id, run_id, kind, step_id, due_at, attempt, join_, name, payload, rank,"
    " orank, ckeys) VALUES (?, ?, 'discovery', 'step', ?, 0, 0, '', NULL, ?, ?, NULL)"
)
KEY = "INSERT INTO run_keys (function_slug, key, run_id, expires_at) VALUES (?, ?, ?, ?)"
LINK = "INSERT INTO event_runs (event_id, run_id) VALUES (?, ?)"


def _open(path: str) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    for _, sql in migrations("sqlite"):
        for statement in statements(sql):
            db.execute(statement)
    return db


DB = _open(os.environ["INGEST_FLOOR_DB"])


def store(events: list[dict[str, Any]], now: float) -> list[str]:
    """The events and the runs they start, in one transaction; the events' ids."""
    ids, event_rows, run_rows, items, keys, links = [], [], [], [], [], []
    ms = int(now * 1000)
    for event in events:
        internal = new_ulid(now)
        event_id = event.get("id") or internal
        slug = f"floor-listen-{event['data']['fn']}"
        body = {"name": event["name"], "data": event["data"], "id": event_id, "ts": ms, "v": None}
        run_id = new_ulid(now)
        ids.append(event_id)
        event_rows.append((internal, event["name"], orjson.dumps(body), now, None))
        run_rows.append((run_id, slug, orjson.dumps([internal]), now))
        items.append((new_ulid(now), run_id, now, now, now))
        keys.append((slug, f"event:{event_id}", run_id, now + KEY_TTL))
        links.append((internal, run_id))
    DB.execute("BEGIN")
    DB.executemany(EVENT, event_rows)
    DB.executemany(RUN, run_rows)
    DB.executemany(ITEM, items)
    DB.executemany(KEY, keys)
    DB.executemany(LINK, links)
    DB.execute("COMMIT")
    return ids


async def app(
    scope: Message,
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    if scope["type"] == "lifespan":
        while (message := await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        DB.close()
        await send({"type": "lifespan.shutdown.complete"})
        return
    body, more = b"", True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    status, answer = 200, b'{"ids":[],"status":200}'
    if scope["method"] == "POST":
        ids = store(orjson.loads(body), time.time())
        answer = orjson.dumps({"ids": ids, "status": 200})
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": answer})
