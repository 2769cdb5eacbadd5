"""``inlet users create|ls|remove`` on an SQLite file, as an operator runs them before
``inlet start``: the user logs in to the dashboard of a server on that file, the file
holds a salted scrypt hash and never the password, and a removed user logs in no more."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import httpx

from inlet.clock import FakeClock
from inlet.config import Settings
from inlet.server import create_app
from inlet.store.sqlite import SQLiteStore

from .test_postgres_cli import inlet

START = Settings(profile="start", signing_key="signkey-prod-0123456789abcdef", event_keys=("k",))
PASSWORD = "a password long enough"


async def login_status(path: Path, name: str, password: str) -> int:
    """What a server on the file answers a login with this name and password."""
    store = SQLiteStore(str(path))
    app = create_app(START, store=store, clock=FakeClock())
    await store.open()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://inlet") as client:
            form = {"mode": "user", "name": name, "password": password}
            return (await client.post("/ui/login", data=form)).status_code
    finally:
        await store.close()


async def test_a_created_user_logs_in_is_stored_as_a_salted_hash_and_is_removed(
    tmp_path: Path,
) -> None:
    path, secret = tmp_path / "inlet.db", tmp_path / "password"
    url = f"sqlite:///{path}"
    secret.write_text(PASSWORD + "\n")

    made = inlet(
        "users",
        "create",
        "ada",
        "--role",
        "viewer",
        "--password-file",
        str(secret),
        "--database-url",
        url,
    )
    assert made.returncode == 0, made.stderr
    assert PASSWORD not in made.stdout + made.stderr

    with closing(sqlite3.connect(path)) as db:
        [(stored,)] = db.execute("SELECT password FROM users WHERE name = 'ada'").fetchall()
    assert stored.startswith("scrypt$") and PASSWORD not in stored
    assert await login_status(path, "ada", PASSWORD) == 303
    assert await login_status(path, "ada", PASSWORD + "!") == 401

    listed = inlet("users", "ls", "--database-url", url)
    assert listed.returncode == 0 and "ada" in listed.stdout and "viewer" in listed.stdout

    removed = inlet("users", "remove", "ada", "--database-url", url)
    assert removed.returncode == 0, removed.stderr
    assert await login_status(path, "ada", PASSWORD) == 401
    again = inlet("users", "remove", "ada", "--database-url", url)
    assert again.returncode == 1 and "no user is named 'ada'" in again.stderr


def test_a_short_password_or_a_taken_name_is_refused_with_the_reason(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'inlet.db'}"
    short, good = tmp_path / "short", tmp_path / "good"
    short.write_text("abc\n")
    good.write_text(PASSWORD + "\n")

    refused = inlet(
        "users",
        "create",
        "ada",
        "--role",
        "admin",
        "--password-file",
        str(short),
        "--database-url",
        url,
    )
    assert refused.returncode == 1 and "has 3 characters; expected at least 8" in refused.stderr

    assert (
        inlet(
            "users",
            "create",
            "ada",
            "--role",
            "admin",
            "--password-file",
            str(good),
            "--database-url",
            url,
        ).returncode
        == 0
    )
    taken = inlet(
        "users",
        "create",
        "ada",
        "--role",
        "viewer",
        "--password-file",
        str(good),
        "--database-url",
        url,
    )
    assert taken.returncode == 1 and "user 'ada' already exists (admin)" in taken.stderr


async def test_a_file_held_by_a_running_server_is_named_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "inlet.db"
    store = SQLiteStore(str(path))
    await store.open()
    try:
        held = inlet("users", "ls", "--database-url", f"sqlite:///{path}")
    finally:
        await store.close()

    assert held.returncode == 1 and "stop inlet start to manage its users" in held.stderr
