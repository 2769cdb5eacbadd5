"""Both TypeScript SDK lines in production mode against ``inlet start`` with keys.

The apps get only the variables a deployed app has (``INNGEST_SIGNING_KEY``,
``INNGEST_EVENT_KEY``, ``INNGEST_BASE_URL``), register themselves with their key as a bearer
token when synced by a PUT, refuse any call Inlet did not sign, sign their answers, send
events from steps with the event key, and (the server's ``--use-api-threshold 1`` moves
every run's events and steps out of band) fetch them from ``/v0/runs/{id}/batch|actions``
with the bearer too. A completed run proves each of those links held.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from .conftest import STACK_KEY
from .harness import InletServer, sha1_hex, wait_for
from .node_app import LINES, NodeApp, NodeStack, prod_env, require_node

pytestmark = [pytest.mark.acceptance, pytest.mark.timeout(120)]

SIGNING_KEY = "signkey-prod-" + "5e" * 32
EVENT_KEY = "node-prod-event-key"
FUNCTIONS = ["multi", "parallel", "sleeper", "sender", "receiver", "parent", "child", "flaky"]


class Production:
    def __init__(self, stack: NodeStack, server: InletServer, apps: dict[str, NodeApp]) -> None:
        self.stack = stack
        self.server = server
        self.apps = apps

    def send(self, line: str, name: str, **data: Any) -> tuple[str, str]:
        key = uuid.uuid4().hex
        resp = self.server.post_events(
            [{"name": f"node-v{line}/{name}", "data": {"key": key, **data}}], key=EVENT_KEY
        )
        assert resp.status_code == 200, resp.text
        ids = resp.json()["ids"]
        return ids[0], key

    def completed(self, event_id: str) -> dict[str, Any]:
        (run,) = self.server.runs_for_event(event_id)
        assert run["status"] == "Completed", self.server.history(run["run_id"])
        return run


def _start_inlet(stack: NodeStack) -> InletServer:
    server = stack.server([], start=False, use_api_threshold=1)
    key_file = stack.tmp_path / "signing-key"
    key_file.write_text(SIGNING_KEY + "\n")
    events_file = stack.tmp_path / "event-keys"
    events_file.write_text(EVENT_KEY + "\n")
    argv = ["start" if arg == "dev" else arg for arg in server.process.argv]
    server.process.argv = [
        *argv,
        "--signing-key-file",
        str(key_file),
        "--event-key-file",
        str(events_file),
    ]
    token = subprocess.run(
        [sys.executable, "-m", "inlet", "tokens", "create", "--role", "admin"],
        env={**server.process.env, "INLET_DATABASE_URL": server.database_url},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.strip()
    server.http.headers["Authorization"] = f"Bearer {token}"
    server.start()
    return server


@pytest.fixture(scope="module")
def prod(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Production]:
    require_node()
    stack = NodeStack(tmp_path_factory.mktemp("node-prod"))
    try:
        server = _start_inlet(stack)
        env = prod_env(server.url, SIGNING_KEY, EVENT_KEY)
        apps = {line: stack.node_app(line, f"node-v{line}", env, start=False) for line in LINES}
        for app in apps.values():
            app.start_unsigned()
            resp = httpx.put(app.url, timeout=30.0)
            assert resp.status_code == 200, f"sync PUT answered {resp.status_code}: {resp.text}"
        server.wait_functions(f"node-v{line}-{fn}" for line in LINES for fn in FUNCTIONS)
        yield Production(stack, server, apps)
    finally:
        stack.close()


@pytest.fixture(autouse=True)
def _logs_on_failure(request: pytest.FixtureRequest, prod: Production) -> None:
    request.node.stash[STACK_KEY] = prod.stack


@pytest.fixture(params=LINES, ids=lambda line: f"v{line}")
def line(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


def test_an_unsigned_call_is_refused_by_the_app(prod: Production, line: str) -> None:
    app = prod.apps[line]
    resp = httpx.post(f"{app.url}?fnId=node-v{line}-multi&stepId=step", json={}, timeout=10.0)

    assert resp.status_code == 401, resp.text
    assert resp.json() == {"message": "Unauthorized"}


def test_steps_run_once_with_every_call_signed_and_state_fetched_by_bearer(
    prod: Production, line: str
) -> None:
    event_id, key = prod.send(line, "multi", x=1)

    run = prod.completed(event_id)

    assert run["output"] == {"one": 2, "two": 20, "three": "20-three"}
    records = prod.stack.records
    assert [records.count("step", fn="multi", step=s, key=key) for s in ("one", "two")] == [1, 1]
    calls = records.find("call", run_id=run["run_id"])
    # Events and memos travelled out of band: the SDK fetched them with its bearer.
    assert calls and all(c["use_api"] for c in calls), calls
    # v4 runs the three steps in one call and checkpoints each with its bearer.
    stack = [sha1_hex(s) for s in ("one", "two", "three")] if line == "3" else []
    assert calls[-1]["stack"] == stack, calls
    assert len(calls) == (4 if line == "3" else 1), calls


def test_parallel_steps_and_a_sleep_complete(prod: Production, line: str) -> None:
    parallel, pkey = prod.send(line, "parallel")
    sleeper, skey = prod.send(line, "sleep")

    assert prod.completed(parallel)["output"] == {"a": "A", "b": "B", "c": "C", "d": "ABCD"}
    assert prod.completed(sleeper)["output"]["slept_ms"] >= 2000
    records = prod.stack.records
    assert records.count("step", fn="parallel", key=pkey) == 4
    assert records.count("step", fn="sleeper", key=skey) == 2


def test_a_step_sends_an_event_with_the_event_key(prod: Production, line: str) -> None:
    event_id, key = prod.send(line, "send")

    run = prod.completed(event_id)

    (sent_id,) = run["output"]["ids"]
    received = wait_for(lambda: prod.stack.records.find("received", key=key), 30.0, "receiver")
    assert received[0]["event_id"] == sent_id


def test_invoke_and_a_retried_step_complete(prod: Production, line: str) -> None:
    parent, _ = prod.send(line, "parent", n=4)
    flaky, fkey = prod.send(line, "flaky")

    assert prod.completed(parent)["output"]["total"] == 17
    assert prod.completed(flaky)["output"] == {"executions": 2}
    assert prod.stack.records.count("step", fn="flaky", key=fkey) == 2
