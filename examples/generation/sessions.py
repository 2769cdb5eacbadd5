"""Generation sessions in a SQLite file: the prompt, the status the page polls, the seeds."""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

SCHEMA = """
create table if not exists sessions (
    id integer primary key,
    prompt text not null,
    status text not null,
    generator text not null,
    seeds text,
    error text,
    created_at real not null,
    updated_at real not null
);
"""


@dataclass(frozen=True)
class Session:
    id: int
    prompt: str
    status: str
    generator: str
    seeds: list[str] | None
    error: str | None
    created_at: float

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "prompt": self.prompt,
            "status": self.status,
            "generator": self.generator,
            "seeds": self.seeds,
            "error": self.error,
            "created_at": self.created_at,
        }


class Sessions:
    def __init__(self, path: str) -> None:
        self._db = sqlite3.connect(path, timeout=30.0, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("pragma journal_mode = wal")
        self._db.executescript(SCHEMA)

    def create(self, prompt: str, generator: str) -> Session:
        now = time.time()
        cur = self._db.execute(
            "insert into sessions (prompt, status, generator, created_at, updated_at) "
            "values (?, 'IN_PROGRESS', ?, ?, ?)",
            (prompt, generator, now, now),
        )
        assert cur.lastrowid is not None
        found = self.get(cur.lastrowid)
        assert found is not None
        return found

    def get(self, session_id: int) -> Session | None:
        row = self._db.execute("select * from sessions where id = ?", (session_id,)).fetchone()
        return _session(row) if row else None

    def recent(self, limit: int = 20) -> list[Session]:
        rows = self._db.execute("select * from sessions order by id desc limit ?", (limit,))
        return [_session(r) for r in rows]

    def save_seeds(self, session_id: int, seeds: list[str]) -> None:
        self._db.execute(
            "update sessions set seeds = ?, updated_at = ? where id = ?",
            (json.dumps(seeds), time.time(), session_id),
        )

    def finish(self, session_id: int, status: str, error: str | None = None) -> None:
        self._db.execute(
            "update sessions set status = ?, error = ?, updated_at = ? where id = ?",
            (status, error, time.time(), session_id),
        )


def _session(row: sqlite3.Row) -> Session:
    return Session(
        id=row["id"],
        prompt=row["prompt"],
        status=row["status"],
        generator=row["generator"],
        seeds=json.loads(row["seeds"]) if row["seeds"] else None,
        error=row["error"],
        created_at=row["created_at"],
    )
