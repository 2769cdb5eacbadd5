"""TS v4 checkpointing against the real server: the SDK runs a run's steps in one request
and reports each to ``POST /v1/checkpoint/{run_id}/async``.

The app (``tests/node/apps/checkpoint_app.js``) serves one ten-step function twice: ``on``
with the SDK's default (checkpointing) and ``off`` with ``checkpointing: false``. It
journals every call request and every step body start, so requests per run and "a step
ran once" are counts of journal lines.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .conftest import STACK_KEY
from .harness import InletServer, Records, migrate, wait_for
from .node_app import APPS_DIR, LINES, NodeApp, NodeStack, dev_env, prod_env, require_node
from .test_node_production import EVENT_KEY, SIGNING_KEY, _start_inlet

pytestmark = [pytest.mark.acceptance, pytest.mark.timeout(180)]

STEPS = 10
EXPECTED = {"total": 55, "outputs": [1, 3, 6, 10, 15, 21, 28, 36, 45, 55]}


class CheckpointApp(NodeApp):
    def argv(self) -> list[str]:
        return ["node", str(APPS_DIR / "checkpoint_app.js")]


def _app(stack: NodeStack, line: str, env: dict[str, str], **extra: str) -> CheckpointApp:
    app = CheckpointApp(
        log_dir=stack.log_dir,
        record_file=stack.records.path,
        line=line,
        app_id=f"checkpoint-v{line}",
        env={**env, **extra},
    )
    stack.node_apps.append(app)
    return app


def _send(server: InletServer, line: str, fn: str, key: str | None = None) -> tuple[str, str]:
    key = key or uuid.uuid4().hex
    resp = server.post_events(
        [{"name": f"checkpoint-v{line}/{fn}", "data": {"key": key}}], key=EVENT_KEY
    )
    assert resp.status_code == 200, resp.text
    return resp.json()["ids"][0], key


def _step_counts(records: Records, fn: str, key: str) -> list[int]:
    return [records.count("step", fn=fn, step=i, key=key) for i in range(1, STEPS + 1)]


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[NodeStack, InletServer]]:
    require_node()
    stack = NodeStack(tmp_path_factory.mktemp("checkpoint"))
    try:
        server = stack.server([], start=False)
        apps = [_app(stack, line, dev_env(server.url)) for line in LINES]
        for app in apps:
            app.start()
        server.process.argv += [arg for app in apps for arg in ("-u", app.url)]
        server.start()
        server.wait_functions(
            f"checkpoint-v{line}-{fn}" for line in LINES for fn in ("on", "off", "short")
        )
        yield stack, server
    finally:
        stack.close()


@pytest.fixture(params=LINES, ids=lambda line: f"v{line}")
def line(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


def test_checkpointing_on_and_off_complete_with_the_same_outputs_each_step_once(
    dev: tuple[NodeStack, InletServer], line: str, request: pytest.FixtureRequest
) -> None:
    stack, server = dev
    request.node.stash[STACK_KEY] = stack
    runs = {}
    for fn in ("on", "off"):
        event_id, key = _send(server, line, fn)
        (run,) = server.runs_for_event(event_id)
        assert run["status"] == "Completed", server.history(run["run_id"])
        assert run["output"] == EXPECTED, run
        assert _step_counts(stack.records, fn, key) == [1] * STEPS
        calls = stack.records.find("call", run_id=run["run_id"])
        assert calls and all(c["has_fn_id"] and c["has_qi_id"] for c in calls), calls
        runs[fn] = (run, calls)
        checkpoints = stack.records.find("checkpoint", run_id=run["run_id"])
        expected = STEPS if (line, fn) == ("4", "on") else 0
        assert [c["status"] for c in checkpoints] == [200] * expected, checkpoints
        # Every step is in the history (the dashboard's waterfall), checkpointed or not.
        steps = [h for h in server.history(run["run_id"]) if h.get("outcome") == "step"]
        assert len(steps) == STEPS, server.history(run["run_id"])
    off_calls = len(runs["off"][1])
    assert off_calls == STEPS + 1, runs["off"][1]
    if line == "4":
        # One request runs every step: the SDK reported each through the checkpoint API.
        assert len(runs["on"][1]) == 1, runs["on"][1]
    else:
        # v3 never checkpoints: one request per step, as before.
        assert len(runs["on"][1]) == STEPS + 1, runs["on"][1]


def test_a_request_past_its_max_runtime_hands_over_and_the_run_goes_on(
    dev: tuple[NodeStack, InletServer], request: pytest.FixtureRequest
) -> None:
    stack, server = dev
    request.node.stash[STACK_KEY] = stack
    event_id, key = _send(server, "4", "short")
    (run,) = server.runs_for_event(event_id)

    assert run["status"] == "Completed", server.history(run["run_id"])
    assert run["output"] == EXPECTED
    assert _step_counts(stack.records, "short", key) == [1] * STEPS
    # 10 steps of 120 ms and a request given up after 400 ms: several requests, most
    # steps still checkpointed.
    calls = stack.records.find("call", run_id=run["run_id"])
    checkpoints = stack.records.find("checkpoint", run_id=run["run_id"], status=200)
    assert len(calls) > 2 and len(checkpoints) >= STEPS // 2, (calls, checkpoints)


def test_a_checkpoint_for_a_dispatch_that_is_not_current_is_refused_with_409(
    dev: tuple[NodeStack, InletServer], request: pytest.FixtureRequest
) -> None:
    stack, server = dev
    request.node.stash[STACK_KEY] = stack
    event_id, _ = _send(server, "4", "on")
    (run,) = server.runs_for_event(event_id)
    body = {
        "run_id": run["run_id"],
        "qi_id": "01JUNKITEM/nobody:1",
        "steps": [{"id": "a" * 40, "op": "StepRun", "name": "late", "data": 1}],
    }
    resp = server.http.post(f"/v1/checkpoint/{run['run_id']}/async", json=body)
    assert resp.status_code == 409, resp.text
    assert resp.json()["code"] == "stale_dispatch"


@pytest.fixture(scope="module")
def prod(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[NodeStack, InletServer]]:
    require_node()
    stack = NodeStack(tmp_path_factory.mktemp("checkpoint-prod"))
    try:
        server = _start_inlet(stack)
        app = _app(stack, "4", prod_env(server.url, SIGNING_KEY, EVENT_KEY))
        app.start_unsigned()
        resp = httpx.put(app.url, timeout=30.0)
        assert resp.status_code == 200, f"sync PUT answered {resp.status_code}: {resp.text}"
        server.wait_functions(["checkpoint-v4-on", "checkpoint-v4-off"])
        yield stack, server
    finally:
        stack.close()


def test_in_production_checkpoints_carry_the_signing_key_and_a_run_takes_one_request(
    prod: tuple[NodeStack, InletServer], request: pytest.FixtureRequest
) -> None:
    stack, server = prod
    request.node.stash[STACK_KEY] = stack
    event_id, key = _send(server, "4", "on")
    (run,) = server.runs_for_event(event_id)

    assert run["status"] == "Completed", server.history(run["run_id"])
    assert run["output"] == EXPECTED
    assert _step_counts(stack.records, "on", key) == [1] * STEPS
    assert len(stack.records.find("call", run_id=run["run_id"])) == 1
    # Without the key (even with an admin API token), the checkpoint API answers 401.
    resp = server.http.post(f"/v1/checkpoint/{run['run_id']}/async", json={"steps": []})
    assert resp.status_code == 401, resp.text


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_after_a_sigkill_every_run_completes_and_no_acknowledged_step_runs_again(
    tmp_path: Path, request: pytest.FixtureRequest, database: str
) -> None:
    """On SQLite the restarted server drops the dead one's leases at once; on PostgreSQL
    they run out first (30 s), and the SDK's requests still out may checkpoint to the new
    server meanwhile: their lease still holds the item, so those steps count as done."""
    require_node()
    url = request.getfixturevalue("pg_url") if database == "postgres" else None
    stack = NodeStack(tmp_path, url)
    request.node.stash[STACK_KEY] = stack
    try:
        if url is not None:
            migrate(url)
        server = stack.server([], start=False)
        app = _app(stack, "4", dev_env(server.url), STEP_MS="150")
        app.start()
        server.process.argv += ["-u", app.url]
        server.start()
        server.wait_functions(["checkpoint-v4-on"])
        sent = [_send(server, "4", "on") for _ in range(4)]

        wait_for(
            lambda: len(stack.records.find("step", fn="on")) >= 12,
            60,
            "12 step bodies to start",
            interval=0.02,
        )
        server.kill()
        killed_at = time.time()
        assert len(stack.records.find("step", fn="on")) < 4 * STEPS, "every step ran before"
        server.start()

        acknowledged = 0
        for event_id, key in sent:
            (run,) = server.runs_for_event(event_id, timeout=120)
            assert run["status"] == "Completed", server.history(run["run_id"])
            assert run["output"] == EXPECTED
            acknowledged += _assert_no_step_after_its_acknowledgement(
                stack.records, run["run_id"], key
            )
        assert acknowledged >= 4 * STEPS - 8, "most steps should have been checkpointed"
        assert any(r["t"] > killed_at for r in stack.records.find("step", fn="on")), (
            "no step ran after the restart: the kill came too late to test anything"
        )
    finally:
        stack.close()


def _assert_no_step_after_its_acknowledgement(records: Records, run_id: str, key: str) -> int:
    """No body of a step starts after a checkpoint naming it was answered 200 (the app
    journals each checkpoint with its answer). Returns how many were acknowledged."""
    acknowledged = 0
    for cp in records.find("checkpoint", run_id=run_id, status=200):
        for name in cp["steps"]:
            step = int(str(name).removeprefix("step-"))
            again = [
                r["t"]
                for r in records.find("step", fn="on", step=step, key=key)
                if r["t"] > cp["t"]
            ]
            assert not again, f"step {step} of run {run_id} ran again after its checkpoint"
            acknowledged += 1
    return acknowledged
