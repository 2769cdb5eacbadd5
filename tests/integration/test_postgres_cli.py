"""``inlet migrate`` and the start-up schema check against a real PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg

from inlet.store.relational import migrations
from ports import free_port

SRC = str(Path(__file__).resolve().parents[2] / "src")


def inlet(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INLET_")}
    env["PYTHONPATH"] = SRC
    return subprocess.run(
        [sys.executable, "-m", "inlet", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_a_server_on_an_unmigrated_database_refuses_to_start_and_names_the_fix(
    pg_url: str, tmp_path: Path
) -> None:
    done = inlet(
        "dev", "--no-discovery", "--port", str(free_port()), "--database-url", pg_url, timeout=30
    )
    assert done.returncode != 0
    assert "schema version 0" in done.stderr
    assert "inlet migrate --database-url" in done.stderr


def test_migrate_brings_the_schema_up_once(pg_url: str) -> None:
    latest = migrations("postgres")[-1][0]
    first = inlet("migrate", "--database-url", pg_url)
    assert first.returncode == 0, first.stderr
    assert f"from schema version 0 to {latest}" in first.stderr
    again = inlet("migrate", "--database-url", pg_url)
    assert again.returncode == 0, again.stderr
    assert "nothing to do" in again.stderr
    with psycopg.connect(pg_url) as conn:
        row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
        assert row is not None and row[0] == latest
        assert conn.execute("SELECT count(*) FROM queue").fetchone() == (0,)


def test_migrate_names_an_unreachable_database() -> None:
    done = inlet("migrate", "--database-url", "postgresql://nobody@127.0.0.1:1/none")
    assert done.returncode != 0
    assert "cannot migrate" in done.stderr and "127.0.0.1:1" in done.stderr


def test_migrate_never_prints_the_database_password() -> None:
    for url in (
        "postgresql://nobody:hunter2-secret@127.0.0.1:1/none",
        "postgresql://nobody@127.0.0.1:1/none?password=hunter2-secret",
    ):
        done = inlet("migrate", "--database-url", url)
        assert done.returncode != 0 and "cannot migrate" in done.stderr
        assert "hunter2-secret" not in done.stderr + done.stdout


def test_start_needs_a_signing_key(pg_url: str) -> None:
    done = inlet("start", "--port", str(free_port()), "--database-url", pg_url, timeout=30)
    assert done.returncode != 0
    assert "signing key" in done.stderr


def test_start_serves_on_postgresql_with_event_keys(pg_url: str) -> None:
    assert inlet("migrate", "--database-url", pg_url).returncode == 0
    made = inlet("tokens", "create", "--role", "viewer", "--database-url", pg_url)
    assert made.returncode == 0, made.stderr
    viewer = {"Authorization": f"Bearer {made.stdout.strip()}"}
    port = str(free_port())
    env = {k: v for k, v in os.environ.items() if not k.startswith("INLET_")}
    env["PYTHONPATH"] = SRC
    argv = [sys.executable, "-m", "inlet", "start", "--port", port, "--database-url", pg_url]
    argv += ["--signing-key", "signkey-prod-0123456789abcdef", "--event-key", "right-key"]
    server = subprocess.Popen(
        argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, server.communicate()[1]
            assert time.monotonic() < deadline, "inlet start did not become ready"
            time.sleep(0.2)
        event = {"name": "app/hello", "data": {}}
        assert httpx.post(f"{base}/e/wrong-key", json=event).status_code == 401
        accepted = httpx.post(f"{base}/e/right-key", json=event)
        assert accepted.status_code == 200, accepted.text
        (event_id,) = accepted.json()["ids"]
        assert httpx.get(f"{base}/v1/events/{event_id}").status_code == 401
        stored = httpx.get(f"{base}/v1/events/{event_id}", headers=viewer)
        assert stored.status_code == 200 and stored.json()["data"]["name"] == "app/hello"
    finally:
        server.terminate()
        server.wait(15)
