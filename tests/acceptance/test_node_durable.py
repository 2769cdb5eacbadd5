"""Durable endpoints of inngest@4 against the real server (docs/protocol.md, "Durable
endpoints"): a function run inside the app's own HTTP handler creates its run with
``POST /v1/checkpoint``; a request that goes async answers 302 to
``/v1/http/runs/{run_id}/output`` and Inlet carries the run on by calling the endpoint.

The app (``tests/node/apps/durable_app.js``) journals every step body it starts ("step")
and every run it creates ("endpoint_run"), so "a step ran once" is a count of lines.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .conftest import STACK_KEY
from .harness import TERMINAL, InletServer, wait_for
from .node_app import APPS_DIR, NodeApp, NodeStack, dev_env, prod_env, require_node
from .test_node_production import EVENT_KEY, SIGNING_KEY, _start_inlet

pytestmark = [pytest.mark.acceptance, pytest.mark.timeout(120)]


class DurableApp(NodeApp):
    """``durable_app.js``: its readiness probe is ``/health`` (it serves no /api/inngest)."""

    def argv(self) -> list[str]:
        return ["node", str(APPS_DIR / "durable_app.js")]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 30.0, signed_only: bool = False) -> None:
        def ready() -> bool:
            assert self.process is not None
            self.process.assert_running()
            try:
                return httpx.get(f"{self.base}/health", timeout=5.0).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(ready, timeout, f"{self.app_id} to answer GET /health")


@pytest.fixture(scope="module")
def dev(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[NodeStack, InletServer, DurableApp]]:
    require_node()
    stack = NodeStack(tmp_path_factory.mktemp("durable"))
    try:
        server = stack.server([])
        app = DurableApp(
            log_dir=stack.log_dir,
            record_file=stack.records.path,
            line="4",
            app_id="durable",
            env=dev_env(server.url),
        )
        stack.node_apps.append(app)
        app.start()
        yield stack, server, app
    finally:
        stack.close()


def _run_id(stack: NodeStack, path: str) -> str:
    found = wait_for(
        lambda: stack.records.find("endpoint_run", path=path),
        10.0,
        f"the run of {path} created with POST /v1/checkpoint",
    )
    assert [r["status"] for r in found] == [200], found
    run_id: str = found[0]["run_id"]
    return run_id


def _ended(server: InletServer, run_id: str) -> dict[str, object]:
    return server.wait_run(run_id, lambda r: r.get("status") in TERMINAL, "ended", 30.0)


def test_an_endpoint_that_stays_sync_answers_in_the_request_and_its_run_completes(
    dev: tuple[NodeStack, InletServer, DurableApp], request: pytest.FixtureRequest
) -> None:
    stack, server, app = dev
    request.node.stash[STACK_KEY] = stack
    key = uuid.uuid4().hex[:8]
    resp = httpx.get(f"{app.base}/sync", params={"key": key}, timeout=30.0)
    assert resp.status_code == 201, resp.text
    assert resp.json() == {"key": key, "a": f"A{key}"}
    run_id = _run_id(stack, "/sync")
    run = _ended(server, run_id)
    assert run["status"] == "Completed", server.history(run_id)
    assert stack.records.count("step", path="/sync", step="a", key=key) == 1
    # The run is named as the dev server names an endpoint the SDK gives no id: METHOD path.
    assert server.run(run_id)["function_id"].startswith("GET "), server.run(run_id)
    steps = [h for h in server.history(run_id) if h.get("outcome") == "step"]
    assert [h["name"] for h in steps] == ["a"], server.history(run_id)


def test_an_endpoint_that_goes_async_redirects_to_its_output_and_inlet_finishes_the_run(
    dev: tuple[NodeStack, InletServer, DurableApp], request: pytest.FixtureRequest
) -> None:
    stack, server, app = dev
    request.node.stash[STACK_KEY] = stack
    key = uuid.uuid4().hex[:8]
    resp = httpx.get(f"{app.base}/async", params={"key": key}, timeout=30.0)
    assert resp.status_code == 302, resp.text
    location = resp.headers["location"]
    run_id = _run_id(stack, "/async")
    assert location.startswith(f"{server.url}/v1/http/runs/{run_id}/output?token="), location

    output = httpx.get(location, timeout=60.0)
    assert output.status_code == 200, output.text
    # The query of the request reached the calls Inlet made after the sleep.
    assert output.json() == f"A-B-{key}"
    run = _ended(server, run_id)
    assert run["status"] == "Completed", server.history(run_id)
    for name in ("a", "b"):
        assert stack.records.count("step", path="/async", step=name, key=key) == 1, name

    forged = location.split("token=")[0] + "token=" + "0" * 64
    denied = httpx.get(forged, timeout=10.0)
    assert denied.status_code == 401, denied.text
    assert "token" in denied.json()["error"], denied.text


def test_a_step_that_fails_in_the_request_is_retried_by_inlet_as_its_second_attempt(
    dev: tuple[NodeStack, InletServer, DurableApp], request: pytest.FixtureRequest
) -> None:
    stack, server, app = dev
    request.node.stash[STACK_KEY] = stack
    key = uuid.uuid4().hex[:8]
    resp = httpx.get(f"{app.base}/flaky", params={"key": key}, timeout=30.0)
    assert resp.status_code == 302, resp.text
    run_id = _run_id(stack, "/flaky")
    output = httpx.get(resp.headers["location"], timeout=60.0)
    assert output.status_code == 200, output.text
    assert output.json() == "ok after 2"
    assert stack.records.count("step", path="/flaky", step="flaky", key=key) == 2
    run = _ended(server, run_id)
    assert run["status"] == "Completed", server.history(run_id)
    # The request's failed attempt is in the history as attempt 0; Inlet's call is 1.
    retried = [h for h in server.history(run_id) if h.get("outcome") == "retry"]
    assert [h["attempt"] for h in retried] == [0], server.history(run_id)
    assert "first attempt" in str(retried[0].get("error")), retried


def test_in_inlet_start_the_endpoint_reports_with_its_key_and_takes_signed_calls(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    require_node()
    stack = NodeStack(tmp_path)
    request.node.stash[STACK_KEY] = stack
    try:
        server = _start_inlet(stack)
        app = DurableApp(
            log_dir=stack.log_dir,
            record_file=stack.records.path,
            line="4",
            app_id="durable-prod",
            env=prod_env(server.url, SIGNING_KEY, EVENT_KEY),
        )
        stack.node_apps.append(app)
        app.start()
        key = uuid.uuid4().hex[:8]
        resp = httpx.get(f"{app.base}/async", params={"key": key}, timeout=30.0)
        assert resp.status_code == 302, resp.text
        run_id = _run_id(stack, "/async")
        # The redirect needs no API token: its own token is the credential.
        output = httpx.get(resp.headers["location"], timeout=60.0)
        assert output.status_code == 200 and output.json() == f"A-B-{key}", output.text
        assert _ended(server, run_id)["status"] == "Completed", server.history(run_id)
        for name in ("a", "b"):
            assert stack.records.count("step", path="/async", step=name, key=key) == 1, name
        # Nobody without the key reaches the endpoint's routes.
        unsigned = httpx.post(f"{server.url}/v1/checkpoint", json={"run_id": "x"}, timeout=10.0)
        assert unsigned.status_code == 401, unsigned.text
    finally:
        stack.close()
