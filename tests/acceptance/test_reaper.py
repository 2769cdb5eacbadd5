"""The reaper against the real server: a sleeping run whose timer is lost (deleted from
the database, as a crash or a bug could leave it) is found, revived, and completes.

Run once, on SQLite: the stuck-run read and the revival are contract-tested on every
backend."""

from __future__ import annotations

import sqlite3
import uuid

import pytest

from .harness import Stack, start_app_stack, wait_for

pytestmark = [pytest.mark.acceptance, pytest.mark.slow]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.timeout(180)
def test_a_run_whose_timer_was_lost_is_revived_by_the_reaper_and_completes(
    stack: Stack, database_url: str
) -> None:
    timed = start_app_stack(
        stack, "apps.time_app:app", ["accept-time-sleeper"], extra_args=("--stuck-after", "2")
    )
    server = timed.server
    event_id = server.send_one("time/sleep", {"key": uuid.uuid4().hex, "seconds": 3})
    (run,) = server.runs_for_event(event_id, ended=False)
    run_id = run["run_id"]

    def sleeping() -> bool:
        return any(r["outcome"] == "waiting" for r in server.history(run_id))

    wait_for(sleeping, 30, "the run to sleep")
    path = database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path, timeout=10) as db:
        lost = db.execute("DELETE FROM queue WHERE run_id = ?", (run_id,)).rowcount
    assert lost == 1, "the sleep's timer was the run's only item"

    (done,) = server.runs_for_event(event_id, timeout=60)
    assert done["status"] == "Completed", done
    outcomes = [r["outcome"] for r in server.history(run_id)]
    assert "revived" in outcomes, outcomes
