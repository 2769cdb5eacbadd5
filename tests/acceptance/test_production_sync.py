"""Sync by URL in production: ``inlet start -u URL`` and ``POST /v1/apps/sync`` against the
official Python SDK with ``INNGEST_DEV=0``, which refuses an unsigned in-band sync and signs
its answer; inlet start refuses an answer that is not signed with its key."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from inlet.protocol.signing import sign

from .conftest import STACK_KEY
from .harness import ROOT, InletServer, SdkApp, Stack, free_port, wait_for

pytestmark = pytest.mark.acceptance

KEY = "signkey-prod-" + "5e" * 32
OTHER_KEY = "signkey-prod-" + "a7" * 32
EVENT_KEY = "acceptance-key"
FUNCTION = "accept-prodsync-greet"
APP = "apps.prodsync_app:app"


def inlet(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("INNGEST_", "INLET_"))}
    clean.update({"PYTHONPATH": str(ROOT / "src"), "COLUMNS": "400", **(env or {})})
    return subprocess.run(
        [sys.executable, "-m", "inlet", *args],
        env=clean,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


class ProductionApp(SdkApp):
    """In production the SDK answers an unsigned ``GET`` with 401: any answer means up."""

    def wait_ready(self, timeout: float = 30.0) -> None:
        def ready() -> bool:
            assert self.process is not None
            self.process.assert_running()
            return httpx.get(self.url, timeout=5.0).status_code in (200, 401)

        wait_for(ready, timeout, f"{self.name} to answer GET {self.url}")


class Production:
    """``inlet start`` on SQLite, with an admin token when this version of inlet has them."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.token = self._admin_token()

    def _admin_token(self) -> str | None:
        if inlet("tokens", "--help").returncode != 0:
            return None
        made = inlet("tokens", "create", "--role", "admin", "--database-url", self.db)
        assert made.returncode == 0, made.stderr
        return made.stdout.strip().splitlines()[-1]

    @property
    def db(self) -> str:
        return self.stack.database_url

    def server(self, app_urls: list[str], port: int | None = None) -> InletServer:
        server = self.stack.server(app_urls, port=port, start=False, poll_interval=0.5)
        argv = server.process.argv
        argv[argv.index("dev")] = "start"
        server.process.env.update({"INLET_SIGNING_KEY": KEY, "INLET_EVENT_KEY": EVENT_KEY})
        if self.token:
            server.http.headers["Authorization"] = f"Bearer {self.token}"
        return server

    def app(self, server_url: str, key: str, port: int | None = None) -> SdkApp:
        env = {
            "INNGEST_DEV": "0",
            "INNGEST_SIGNING_KEY": key,
            "INNGEST_EVENT_KEY": EVENT_KEY,
            "INNGEST_BASE_URL": server_url,
            "INNGEST_API_BASE_URL": server_url,
            "INNGEST_EVENT_API_BASE_URL": server_url,
        }
        app = ProductionApp(
            log_dir=self.stack.log_dir,
            module=APP,
            server_url=server_url,
            record_file=self.stack.records.path,
            port=port if port is not None else free_port(),
            env=env,
        )
        self.stack.apps.append(app)
        app.start()
        return app

    def cli(self, server: InletServer, *args: str) -> subprocess.CompletedProcess[str]:
        env = {"INLET_TOKEN": self.token} if self.token else {}
        return inlet(*args, "--url", server.url, env=env)


@pytest.fixture
def prod(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Production]:
    stack = Stack(tmp_path)
    request.node.stash[STACK_KEY] = stack
    try:
        yield Production(stack)
    finally:
        stack.close()


def handler_error(server: InletServer, url: str) -> str | None:
    for handler in server.dev_info()["handlers"]:
        if handler["url"] == url and handler["error"]:
            return str(handler["error"])
    return None


@pytest.mark.timeout(120)
def test_inlet_start_u_syncs_a_production_app_and_its_run_completes(prod: Production) -> None:
    app_port = free_port()
    server = prod.server([f"http://127.0.0.1:{app_port}/api/inngest"])
    app = prod.app(server.url, KEY, port=app_port)
    server.start()
    server.wait_functions({FUNCTION})

    name = uuid.uuid4().hex
    event_id = server.send_one("prodsync/greet", {"name": name})
    [run] = server.runs_for_event(event_id)
    assert run["status"] == "Completed", run
    assert run["output"] == f"hello {name}"

    listed = server.http.get("/v1/apps").json()["data"]
    assert [(a["url"], a["error"], a["functions"]) for a in listed] == [(app.url, None, [FUNCTION])]
    assert listed[0]["sdk"].startswith("py:v")
    shown = prod.cli(server, "apps", "ls")
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert app.url in shown.stdout and "accept-prodsync" in shown.stdout


@pytest.mark.timeout(120)
def test_an_app_holding_another_signing_key_gets_the_named_sync_error(prod: Production) -> None:
    app_port = free_port()
    server = prod.server([f"http://127.0.0.1:{app_port}/api/inngest"])
    app = prod.app(server.url, OTHER_KEY, port=app_port)
    server.start()

    error = wait_for(
        lambda: handler_error(server, app.url), 30, f"a sync error for {app.url} in GET /dev"
    )
    assert error.startswith(
        f"the app at {app.url} rejected this server's signature: it holds a different "
        "signing key, or none"
    ), error
    assert FUNCTION not in server.registered_ids()
    shown = prod.cli(server, "apps", "ls")
    assert shown.returncode == 1, shown.stdout + shown.stderr
    assert "rejected this server's signature" in shown.stdout


@pytest.mark.timeout(120)
def test_post_v1_apps_sync_and_inlet_apps_sync_sync_an_app_now(prod: Production) -> None:
    server = prod.server([])
    app = prod.app(server.url, KEY)
    server.start()
    assert FUNCTION not in server.registered_ids()

    resp = server.http.post("/v1/apps/sync", json={"url": app.url}, timeout=60.0)
    assert resp.status_code == 200, resp.text
    assert resp.json()["data"]["functions"] == [FUNCTION]
    assert FUNCTION in server.registered_ids()

    again = prod.cli(server, "apps", "sync", "--all")
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"{app.url}: synced accept-prodsync, 1 functions" in again.stdout


class ForgingApp(BaseHTTPRequestHandler):
    """Answers every sync in band, as an SDK does, but signed with a key inlet does not
    hold: what a proxy or an impostor standing in for the app would send."""

    def do_PUT(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        url = f"http://127.0.0.1:{self.server.server_address[1]}/api/inngest"
        step = {"id": "step", "runtime": {"url": f"{url}?fnId={FUNCTION}&stepId=step"}}
        function = {"id": FUNCTION, "name": "greet", "triggers": [{"event": "prodsync/greet"}]}
        answer = {
            "app_id": "accept-prodsync",
            "framework": "http.server",
            "sdk_language": "py",
            "sdk_version": "0.5.19",
            "url": url,
            "functions": [{**function, "steps": {"step": step}}],
        }
        body = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Inngest-SDK", "py:v0.5.19")
        self.send_header("X-Inngest-Sync-Kind", "in_band")
        self.send_header("X-Inngest-Signature", sign(body, OTHER_KEY, time.time()))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def forging_app() -> Iterator[str]:
    """A ``ForgingApp`` on loopback; its serve URL."""
    httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), ForgingApp)
    thread = threading.Thread(target=httpd.serve_forever, name="forging-app", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/api/inngest"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


@pytest.mark.timeout(120)
def test_an_in_band_answer_signed_with_another_key_fails_the_sync_with_the_named_error(
    prod: Production, forging_app: str
) -> None:
    server = prod.server([forging_app])
    server.start()

    error = wait_for(
        lambda: handler_error(server, forging_app), 30, f"a sync error for {forging_app}"
    )
    assert error.startswith(
        f"the app at {forging_app} answered the sync without a valid signature: its "
        "X-Inngest-Signature was made with none of this server's signing keys"
    ), error
    assert FUNCTION not in server.registered_ids()
