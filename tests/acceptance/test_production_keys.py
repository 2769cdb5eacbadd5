"""``inlet start`` with an official Python SDK app in production mode.

The SDK in production refuses a call without a valid ``X-Inngest-Signature``, so every run
that completes here proves Inlet signed its calls; Inlet in turn trusts only answers the
SDK signed. Keys reach Inlet through files, never the command line.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from inlet.config import fingerprint

from .harness import READY_TIMEOUT, ROOT, InletServer, SdkApp, Stack, _clean_env, wait_for

pytestmark = [pytest.mark.acceptance, pytest.mark.timeout(180)]

KEY_A = "signkey-prod-" + "a1" * 32
KEY_B = "signkey-prod-" + "b2" * 32
EVENT_KEY = "acceptance-key"
NAP_SECONDS = 5.0
SLEEPERS = 20


def start_server(
    stack: Stack, key: str, fallback: str | None = None, server: InletServer | None = None
) -> InletServer:
    """Start (or restart) ``inlet start`` with ``key`` from a file and ``fallback``."""
    if server is None:
        server = stack.server([], start=False)
    key_file = stack.tmp_path / f"signing-key-{len(server.process.log_paths)}"
    key_file.write_text(key + "\n")
    events_file = stack.tmp_path / "event-keys"
    events_file.write_text(f"  {EVENT_KEY}\n")
    argv = ["start" if arg == "dev" else arg for arg in server.process.argv]
    argv = argv[: argv.index("--retry-interval") + 2]
    server.process.argv = [
        *argv,
        "--signing-key-file",
        str(key_file),
        "--event-key-file",
        str(events_file),
    ]
    env = {k: v for k, v in server.process.env.items() if k != "INLET_SIGNING_KEY_FALLBACK"}
    if fallback is not None:
        env["INLET_SIGNING_KEY_FALLBACK"] = fallback
    server.process.env = env
    token = admin_token(server)
    if token is not None:
        server.http.headers["Authorization"] = f"Bearer {token}"
    server.start()
    return server


def admin_token(server: InletServer) -> str | None:
    """An API token for the reads (``inlet tokens create``), made on the database before the
    server opens it; ``None`` on a build without API tokens."""
    if "Authorization" in server.http.headers:
        return server.http.headers["Authorization"].removeprefix("Bearer ")
    done = subprocess.run(
        [sys.executable, "-m", "inlet", "tokens", "create", "--role", "admin"],
        env={**server.process.env, "INLET_DATABASE_URL": server.database_url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode == 2 and "No such command" in done.stderr:
        return None
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


class ProdApp(SdkApp):
    """An SDK app in production mode: it answers an unsigned GET with a bare 401."""

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        def ready() -> bool:
            assert self.process is not None
            self.process.assert_running()
            return httpx.get(self.url, timeout=5.0).status_code in (200, 401)

        wait_for(ready, timeout, f"{self.name} to answer GET {self.url}")


def start_app(stack: Stack, module: str, server: InletServer, key: str) -> ProdApp:
    app = ProdApp(
        log_dir=stack.log_dir,
        module=module,
        server_url=server.url,
        record_file=stack.records.path,
        env=app_env(server, key),
    )
    stack.apps.append(app)
    app.start()
    return app


def app_env(server: InletServer, key: str, fallback: str | None = None) -> dict[str, str]:
    env = {
        "INNGEST_DEV": "0",
        "INNGEST_SIGNING_KEY": key,
        "INNGEST_EVENT_KEY": EVENT_KEY,
        "INNGEST_API_BASE_URL": server.url,
        "INNGEST_EVENT_API_BASE_URL": server.url,
    }
    if fallback is not None:
        env["INNGEST_SIGNING_KEY_FALLBACK"] = fallback
    return env


def sync(server: InletServer, app: SdkApp) -> None:
    """Out-of-band sync: the PUT makes the SDK register itself with its signing key."""
    resp = httpx.put(app.url, timeout=30.0)
    assert resp.status_code == 200, f"sync PUT answered {resp.status_code}: {resp.text}"
    server.wait_functions(["accept-prod-nap", "accept-prod-greet"])


def test_a_production_app_runs_because_inlet_signs_its_calls(stack: Stack) -> None:
    server = start_server(stack, KEY_A)
    app = start_app(stack, "apps.prod_app:app", server, KEY_A)
    sync(server, app)

    event_id = server.send_one("prod/greet", {"key": "g1"})

    [run] = server.runs_for_event(event_id)
    assert run["status"] == "Completed", server.history(run["run_id"])
    assert run["output"] == "hello"


def test_a_wrong_event_key_gets_401_and_triggers_nothing(stack: Stack) -> None:
    server = start_server(stack, KEY_A)
    app = start_app(stack, "apps.prod_app:app", server, KEY_A)
    sync(server, app)

    resp = server.post_events([{"name": "prod/greet", "data": {"key": "x"}}], key="wrong-key")

    assert resp.status_code == 401
    assert EVENT_KEY not in resp.text
    time.sleep(1.0)
    assert server.http.get("/v1/events").json()["data"] == []
    assert stack.records.find("step") == []


def test_rotating_the_signing_key_while_runs_sleep_drops_none(stack: Stack) -> None:
    server = start_server(stack, KEY_A)
    app = start_app(stack, "apps.prod_app:app", server, KEY_A)
    sync(server, app)
    events = [
        {"name": "prod/nap", "data": {"key": f"k{i}", "seconds": NAP_SECONDS}}
        for i in range(SLEEPERS)
    ]
    event_ids = server.send(*events)
    deadline = time.monotonic() + 60
    while len(stack.records.find("step", step="before")) < SLEEPERS:
        assert time.monotonic() < deadline, "the runs did not all reach their sleep"
        time.sleep(0.2)

    # Rotation to key B: the app verifies with B as its fallback and still authenticates
    # with A; Inlet signs with B and accepts A as its fallback.
    server.stop()
    app.stop()
    app.env = app_env(server, KEY_A, fallback=KEY_B)
    app.start()
    start_server(stack, KEY_B, fallback=KEY_A, server=server)
    sync(server, app)

    for event_id in event_ids:
        [run] = server.runs_for_event(event_id)
        assert run["status"] == "Completed", server.history(run["run_id"])
    assert len(stack.records.find("step", step="after")) == SLEEPERS
    assert len(stack.records.find("step", step="before")) == SLEEPERS
    banner = server.process.log_paths[-1].read_text(errors="replace")
    assert f"signing key {fingerprint(KEY_B)}, fallback signing key {fingerprint(KEY_A)}" in banner
    for log in stack.log_dir.glob("inlet.*.log"):
        text = log.read_text(errors="replace")
        assert all(k.removeprefix("signkey-prod-") not in text for k in (KEY_A, KEY_B)), log


def test_an_answer_without_the_apps_signature_fails_the_attempt(stack: Stack) -> None:
    server = start_server(stack, KEY_A)
    app = start_app(stack, "apps.prod_app:stripped", server, KEY_A)
    sync(server, app)

    event_id = server.send_one("prod/greet", {"key": "forged"})

    [run] = server.runs_for_event(event_id)
    assert run["status"] == "Failed"
    rows = server.history(run["run_id"])
    errors = [str(row.get("error")) for row in rows]
    assert len(rows) >= 2 and all("no X-Inngest-Signature header" in e for e in errors), rows
    assert not any(row.get("output") == "hello" for row in rows), rows


def test_start_without_an_event_key_refuses_to_start_and_says_how(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text(KEY_A)
    done = subprocess.run(
        [sys.executable, "-m", "inlet", "start", "--signing-key-file", str(key_file)],
        env=_clean_env({"PYTHONPATH": str(ROOT / "src")}),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode != 0
    assert "--event-key-file (INLET_EVENT_KEY_FILE)" in done.stderr
    assert KEY_A.removeprefix("signkey-prod-") not in done.stderr


def make_token(stack: Stack, role: str) -> str:
    """A token made with the CLI on the test's database before a server opens it."""
    done = subprocess.run(
        [sys.executable, "-m", "inlet", "tokens", "create", "--role", role],
        env={**_clean_env({}), "PYTHONPATH": str(ROOT / "src"),
             "INLET_DATABASE_URL": stack.database_url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_api_needs_a_token_and_a_viewer_token_only_reads(stack: Stack) -> None:
    viewer_token = make_token(stack, "viewer")
    server = start_server(stack, KEY_A)
    anonymous = httpx.Client(base_url=server.url, timeout=10.0)
    viewer = httpx.Client(
        base_url=server.url, timeout=10.0, headers={"Authorization": f"Bearer {viewer_token}"}
    )
    query = {"query": "{ apps { id } }"}

    for path in ("/v1/events", "/v1/runs", "/v1/apps", "/dev", "/metrics"):
        assert anonymous.get(path).status_code == 401, path
    assert anonymous.post("/v0/gql", json=query).status_code == 401
    assert anonymous.delete("/v1/runs/01RUN000000000000000000001").status_code == 401

    assert viewer.get("/v1/events").status_code == 200
    assert viewer.get("/dev").status_code == 200
    assert viewer.post("/v0/gql", json=query).status_code == 200
    assert viewer.delete("/v1/runs/01RUN000000000000000000001").status_code == 403
    cancel = {"function_id": "x", "app_id": "y", "started_after": "2020-01-01T00:00:00Z"}
    assert viewer.post("/v1/cancellations", json=cancel).status_code == 403
    # The admin token passes the check: the answer is about the run, not about the token.
    assert server.http.delete("/v1/runs/01RUN000000000000000000001").status_code == 404
    assert server.http.get("/health").status_code == 200
    assert anonymous.get("/health").status_code == 200
