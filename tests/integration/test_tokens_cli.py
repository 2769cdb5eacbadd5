"""``inlet tokens create|ls|revoke`` on an SQLite file, as an operator runs them before
``inlet start``: the printed token opens the API of a server on that file, the file holds
only its hash, and a revoked token opens nothing."""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import httpx

from inlet.clock import FakeClock
from inlet.config import Settings
from inlet.server import create_app
from inlet.store.sqlite import SQLiteStore

from .test_postgres_cli import SRC, free_port, inlet

START = Settings(profile="start", signing_key="signkey-prod-0123456789abcdef", event_keys=("k",))


async def status_with(path: Path, token: str, method: str = "GET", url: str = "/v1/events") -> int:
    """The status a server on the file answers a request with this token."""
    store = SQLiteStore(str(path))
    app = create_app(START, store=store, clock=FakeClock())
    await store.open()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://inlet") as client:
            headers = {"Authorization": f"Bearer {token}"}
            return (await client.request(method, url, headers=headers)).status_code
    finally:
        await store.close()


async def test_a_created_token_works_is_stored_as_a_hash_is_listed_and_revoked(
    tmp_path: Path,
) -> None:
    path = tmp_path / "inlet.db"
    url = f"sqlite:///{path}"

    made = inlet("tokens", "create", "--role", "admin", "--name", "ops", "--database-url", url)
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert token.startswith("inlet_") and "shown only now" in made.stderr
    viewer = inlet("tokens", "create", "--role", "viewer", "--database-url", url)
    assert viewer.returncode == 0, viewer.stderr

    with closing(sqlite3.connect(path)) as db:
        rows = db.execute("SELECT id, name, role, hash FROM tokens ORDER BY created_at").fetchall()
        dump = "\n".join(db.iterdump())
    assert token not in dump and viewer.stdout.strip() not in dump
    [(token_id, name, role, digest), (_, _, viewer_role, _)] = rows
    assert (name, role, viewer_role) == ("ops", "admin", "viewer")
    assert digest == hashlib.sha256(token.encode()).hexdigest()

    assert await status_with(path, token) == 200
    assert await status_with(path, viewer.stdout.strip(), "POST", "/v1/cancellations") == 403

    listed = inlet("tokens", "ls", "--database-url", url)
    assert listed.returncode == 0, listed.stderr
    [header, ops_line, viewer_line] = listed.stdout.splitlines()
    assert header.split()[:3] == ["ID", "NAME", "ROLE"]
    assert ops_line.split()[:3] == [token_id, "ops", "admin"]
    assert viewer_line.split()[1:3] == ["-", "viewer"]
    assert token not in listed.stdout

    revoked = inlet("tokens", "revoke", token_id, "--database-url", url)
    assert revoked.returncode == 0, revoked.stderr
    assert await status_with(path, token) == 401
    again = inlet("tokens", "revoke", token_id, "--database-url", url)
    assert again.returncode != 0 and "inlet tokens ls" in again.stderr
    after = inlet("tokens", "ls", "--database-url", url).stdout.splitlines()
    # The revoked column (last) of the ops token holds a time; the viewer's stays empty.
    assert re.search(r"\d\d:\d\d:\d\dZ$", after[1]) and after[2].endswith("-")


def test_the_cli_commands_that_read_a_running_server_send_the_token(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'inlet.db'}"
    made = inlet("tokens", "create", "--role", "viewer", "--database-url", url)
    assert made.returncode == 0, made.stderr
    port = str(free_port())
    env = {k: v for k, v in os.environ.items() if not k.startswith("INLET_")}
    env["PYTHONPATH"] = SRC
    argv = [sys.executable, "-m", "inlet", "start", "--port", port, "--database-url", url]
    argv += ["--signing-key", START.signing_key or "", "--event-key", "k"]
    server = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while not ready(base):
            assert server.poll() is None and time.monotonic() < deadline, "inlet start failed"
            time.sleep(0.2)
        sent = httpx.post(f"{base}/e/k", json={"name": "app/hello", "data": {}})
        [event_id] = sent.json()["ids"]

        denied = inlet("events", "show", event_id, "--url", base)
        shown = inlet("events", "show", event_id, "--url", base, "--token", made.stdout.strip())
        viewer = ("--url", base, "--token", made.stdout.strip())
        forbidden = inlet("functions", "pause", "app-hello", *viewer)

        assert denied.returncode == 1
        assert f"GET /v1/events/{event_id} needs an API token" in denied.stderr
        assert "hint: pass an API token with --token or INLET_TOKEN; create one with: " in (
            denied.stderr
        )
        assert shown.returncode == 0, shown.stdout + shown.stderr
        assert "app/hello" in shown.stdout
        assert forbidden.returncode == 1
        assert "POST /v1/functions/app-hello/pause changes state and needs an admin token" in (
            forbidden.stderr
        )
        assert "hint: this needs an admin token (--token or INLET_TOKEN)" in forbidden.stderr
    finally:
        server.terminate()
        server.wait(15)


def ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/health", timeout=1).status_code == 200
    except httpx.TransportError:
        return False
