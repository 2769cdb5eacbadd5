"""Defers with the Python SDK's pre-release, ``inngest==0.5.20a0``, against the real server
(``apps/defer_py_app.py``). The pre-release is installed for this module only, with pip into
a directory under the test's temporary directory that goes first on the app's
``PYTHONPATH``; the project's own pin (0.5.19) is untouched. Without the package index
(pip fails) the module skips locally and fails in CI, as the Node tier does without Node.

What it proves: a Python defer starts its deferred function once after the parent ends,
with the parent's run id and slug; a defer aborted in a later request never starts; and a
function that returns with defers still buffered, which 0.5.20 answers with a 206 of
``[DeferAdd, RunComplete]`` instead of a 200, completes with its result as output.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ports import free_port

from .conftest import STACK_KEY
from .harness import InletServer, Records, Stack, wait_for

pytestmark = [pytest.mark.acceptance, pytest.mark.timeout(180)]

PRE_RELEASE = "inngest==0.5.20a0"
EXTRA = "jcs>=0.2.1"
"""0.5.20's one dependency that 0.5.19 lacks; the others are the project's own."""
SCHEDULE = "inngest/deferred.schedule"


def install(target: Path) -> None:
    argv = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target"]
    done = subprocess.run(
        [*argv, str(target), PRE_RELEASE, EXTRA], capture_output=True, text=True, timeout=120
    )
    if done.returncode == 0:
        return
    reason = f"pip could not install {PRE_RELEASE}: {done.stderr.strip()[-500:]}"
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


class Py:
    def __init__(self, stack: Stack, server: InletServer) -> None:
        self.stack = stack
        self.server = server
        self.records: Records = stack.records

    def start(self, name: str) -> tuple[dict[str, Any], str]:
        key = uuid.uuid4().hex
        event_id = self.server.send_one(f"pynew/{name}", {"key": key})
        (run,) = self.server.runs_for_event(event_id, timeout=60.0)
        return run, key

    def deferred(self, key: str, count: int) -> list[dict[str, Any]]:
        return wait_for(
            lambda: (
                found if len(found := self.records.find("deferred", key=key)) >= count else None
            ),
            30.0,
            f"{count} deferred run(s) of key {key}",
            interval=0.2,
        )

    def schedules(self, key: str) -> list[dict[str, Any]]:
        events = self.server.http.get("/v1/events", params={"name": SCHEDULE}).json()["data"]
        return [e for e in events if e["data"].get("key") == key]


@pytest.fixture(scope="module")
def py(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Py]:
    base = tmp_path_factory.mktemp("py-newest")
    target = base / "site"
    install(target)
    stack = Stack(base)
    try:
        port = free_port()
        app = stack.app(
            "apps.defer_py_app:app", f"http://127.0.0.1:{port}", env={"PYTHONPATH": str(target)}
        )
        server = stack.server([app.url], port=port)
        server.wait_functions(f"py-newest-{fn}" for fn in ("scorer", "parent", "lone"))
        yield Py(stack, server)
    finally:
        stack.close()


@pytest.fixture(autouse=True)
def _logs_on_failure(request: pytest.FixtureRequest, py: Py) -> None:
    request.node.stash[STACK_KEY] = py.stack


def test_the_app_runs_the_pre_release(py: Py) -> None:
    (app,) = py.stack.apps
    assert httpx.get(app.url, timeout=10.0).headers["x-inngest-sdk"] == "inngest-py:v0.5.20a0"


def test_a_python_defer_starts_once_after_its_parent_and_an_aborted_one_never(py: Py) -> None:
    run, key = py.start("parent")
    assert run["status"] == "Completed", run
    assert py.server.run(run["run_id"])["output"] == {"parent": key}
    (deferred,) = py.deferred(key, 1)
    assert deferred["n"] == 1
    assert deferred["parent_run_id"] == run["run_id"]
    assert deferred["parent_fn"] == "py-newest-parent"
    assert len(py.schedules(key)) == 1
    assert py.records.count("step", key=key, step="a") == 1


def test_a_result_wrapped_in_run_complete_after_a_defer_completes_the_run(py: Py) -> None:
    run, key = py.start("lone")
    assert run["status"] == "Completed", run
    assert py.server.run(run["run_id"])["output"] == {"lone": key}
    (call,) = py.server.history(run["run_id"])
    assert (call["status_code"], call["outcome"]) == (206, "completed"), call
    (deferred,) = py.deferred(key, 1)
    assert deferred["n"] == 3
