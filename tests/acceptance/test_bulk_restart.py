"""A bulk replay is durable: SIGKILL the server after the first page of a replay of 250
failed runs; after a restart on the same database the operation carries on from its
stored cursor to the end, and every failed run is replayed exactly once.

Run once, on SQLite: the cursor and the per-run replay key are the same SQL on both
backends (the store contract tests run them on PostgreSQL)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from .harness import Stack, start_core, wait_for

pytestmark = [pytest.mark.acceptance, pytest.mark.slow]

RUNS = 250
FUNCTION = "accept-no-retries"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.timeout(300)
def test_a_bulk_replay_killed_midway_finishes_after_a_restart_replaying_each_run_once(
    stack: Stack,
) -> None:
    # Three seconds between pages of 100: the kill lands between the first and the second.
    core = start_core(stack, extra_args=("--bulk-pace", "3"))
    server = core.server
    event_ids = server.send(
        *({"name": "accept/no-retries", "data": {"key": uuid.uuid4().hex}} for _ in range(RUNS))
    )

    def failed() -> int | None:
        server.process.assert_running()
        resp = server.http.get("/v1/runs/counts", params={"function": FUNCTION})
        n = int(resp.json()["data"]["statuses"]["FAILED"])
        return n if n == RUNS else None

    wait_for(failed, 120, f"{RUNS} failed runs of {FUNCTION}", interval=0.5)

    made = server.http.post(
        "/v1/bulk",
        json={"kind": "replay", "function_id": FUNCTION, "statuses": ["Failed"], "name": "fix"},
    )
    assert made.status_code == 201, made.text
    op_id = made.json()["data"]["id"]

    def progress() -> dict[str, Any]:
        resp = server.http.get(f"/v1/bulk/{op_id}")
        assert resp.status_code == 200, resp.text
        data: dict[str, Any] = resp.json()["data"]
        return data

    def reached(done: int) -> dict[str, Any] | None:
        now = progress()
        return now if now["done"] >= done else None

    def ended() -> dict[str, Any] | None:
        now = progress()
        return now if now["state"] != "running" else None

    first = wait_for(lambda: reached(100), 30, "the first page", 0.1)
    assert first["state"] == "running" and first["done"] < RUNS, first
    server.kill()
    server.start()

    done = wait_for(ended, 60, "the replay to end", 0.5)
    assert (done["state"], done["total"], done["done"], done["changed"]) == (
        "done",
        RUNS,
        RUNS,
        RUNS,
    ), done
    for event_id in event_ids:
        runs = server.runs(event_id)
        assert len(runs) == 2, (event_id, runs)
