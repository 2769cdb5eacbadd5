"""The database restarts while runs are in flight: inlet reconnects, says so in its log, and
every run completes with each step's output recorded once."""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from pgserver import PostgresServer

from .harness import Stack, migrate, start_core, wait_for

pytestmark = [pytest.mark.acceptance, pytest.mark.slow]

RUNS = 20
STEPS = ("a", "b", "c")


@pytest.mark.timeout(600)
def test_runs_complete_across_a_database_restart(tmp_path: Path, pg_server: PostgresServer) -> None:
    # A server of its own (the session's is shared with other tests), durable like production.
    base = Path(tempfile.mkdtemp(prefix="inlet-pg-restart-"))
    pg = PostgresServer(base, fast=False, bindir=pg_server.bindir)
    stack = Stack(tmp_path, pg.url())
    try:
        pg.start()
        stack.database_url = pg.create_database("restart")
        migrate(stack.database_url)
        core = start_core(stack)
        server, records = core.server, core.records
        keys = [uuid.uuid4().hex for _ in range(RUNS)]
        event_ids = server.send(*({"name": "accept/durable", "data": {"key": k}} for k in keys))
        wait_for(lambda: len(records.find("durable_step")) >= 10 or None, 120, "10 steps to run")
        pg.stop()
        time.sleep(2.0)  # calls finish while the database is away; their results must wait
        pg.start()
        outputs: list[str] = []
        for key, event_id in zip(keys, event_ids, strict=True):
            (run,) = server.runs_for_event(event_id, timeout=240)
            assert run["status"] == "Completed", run
            executions = [e for e in records.find("durable_step") if e["key"] == key]
            for step in STEPS:
                tokens = [e["token"] for e in executions if e["step"] == step]
                assert run["output"][step] in tokens, (key, step, run, tokens)
            outputs += [run["output"][s] for s in STEPS]
        assert len(set(outputs)) == RUNS * len(STEPS)
        server.process.assert_running()
        log = "".join(p.read_text(errors="replace") for p in server.process.log_paths)
        assert "store.connection_lost" in log, log[-3000:]
        assert "store.reconnected" in log, log[-3000:]
    finally:
        stack.close()
        pg.stop()
        shutil.rmtree(base, ignore_errors=True)
