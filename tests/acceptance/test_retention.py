"""Retention with the real server: 300 three-step runs of the official SDK app finish,
and once past a short retention they are gone from the API with their history and
events, while the SQLite file gives the space back (incremental vacuum).

Run once, on SQLite: the file's size is SQLite's concern (the store contract tests run
the deletions on PostgreSQL)."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import pytest

from .harness import Stack, start_core, wait_for

pytestmark = [pytest.mark.acceptance, pytest.mark.slow]

RUNS = 300
FUNCTION = "accept-three-steps"
RETENTION = 15.0
PAD = "x" * 4000
"""Each event's ballast, so the runs take a measurable part of the file."""


def space(path: Path) -> tuple[int, int]:
    """(pages in use x page size, the file's size on disk after a checkpoint)."""
    db = sqlite3.connect(f"file:{path}?mode=rw", uri=True)
    try:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages = int(db.execute("PRAGMA page_count").fetchone()[0])
        size = int(db.execute("PRAGMA page_size").fetchone()[0])
        return pages * size, path.stat().st_size
    finally:
        db.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.timeout(300)
def test_runs_past_the_retention_are_gone_and_the_sqlite_file_shrinks(stack: Stack) -> None:
    path = Path(stack.database_url.removeprefix("sqlite:///"))
    core = start_core(stack, extra_args=("--retention", f"{RETENTION:g}s"))
    server = core.server
    empty, _ = space(path)
    event_ids = server.send(
        *(
            {"name": "accept/three", "data": {"x": n, "key": uuid.uuid4().hex, "pad": PAD}}
            for n in range(RUNS)
        )
    )

    def counts() -> dict[str, int]:
        server.process.assert_running()
        resp = server.http.get("/v1/runs/counts", params={"function": FUNCTION})
        assert resp.status_code == 200, resp.text
        return {k: int(v) for k, v in resp.json()["data"]["statuses"].items()}

    wait_for(
        lambda: counts().get("COMPLETED") == RUNS or None,
        RETENTION * 0.8,
        f"{RUNS} completed runs before the first could age past {RETENTION:g}s",
        interval=0.2,
    )
    full, full_file = space(path)
    run_ids = [server.runs(event_id)[0]["run_id"] for event_id in event_ids[:5]]
    assert full - empty > RUNS * len(PAD), (empty, full)

    wait_for(lambda: sum(counts().values()) == 0 or None, 60, "every run to go", interval=0.5)
    for run_id in run_ids:
        assert server.http.get(f"/v1/runs/{run_id}").status_code == 404
    for event_id in event_ids[:5]:
        assert server.http.get(f"/v1/events/{event_id}").status_code == 404
    wait_for(
        lambda: space(path)[0] < empty + (full - empty) / 4 or None,
        30,
        "the freed pages to go back to the file system",
        interval=0.5,
    )
    _, after_file = space(path)
    assert after_file < full_file, (full_file, after_file)
