"""``inlet doctor`` against the real ``inlet start`` and the official Python SDK in production
mode: a healthy set-up passes (exit 0); an app holding another signing key, an app that
stopped, a function stored with an expression that does not compile and a database whose
schema is behind each fail (exit 1), naming what and the fix.

On SQLite only: the probes and checks are the same on PostgreSQL, whose schema check the
unit tests cover."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import STACK_KEY
from .harness import InletServer, SdkApp, Stack, free_port
from .test_production_sync import (
    APP,
    EVENT_KEY,
    FUNCTION,
    KEY,
    OTHER_KEY,
    Production,
    ProductionApp,
)

pytestmark = pytest.mark.acceptance


@pytest.fixture
def prod(request: pytest.FixtureRequest, tmp_path: Path, database_url: str) -> Iterator[Production]:
    stack = Stack(tmp_path, database_url)
    request.node.stash[STACK_KEY] = stack
    try:
        yield Production(stack)
    finally:
        stack.close()


def doctor(prod: Production, server: InletServer, *args: str) -> subprocess.CompletedProcess[str]:
    return prod.cli(server, "doctor", *args)


def checks(prod: Production, server: InletServer) -> tuple[int, list[dict[str, Any]]]:
    done = doctor(prod, server, "--json")
    assert done.returncode in (0, 1), done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] is (done.returncode == 0)
    return done.returncode, report["checks"]


def about(found: list[dict[str, Any]], subject: str) -> dict[str, str]:
    return {c["id"]: c["verdict"] for c in found if c["subject"] == subject}


def one(found: list[dict[str, Any]], id_: str) -> dict[str, Any]:
    [check] = [c for c in found if c["id"] == id_]
    return check


def healthy(prod: Production) -> tuple[InletServer, SdkApp]:
    app_port = free_port()
    server = prod.server([f"http://127.0.0.1:{app_port}/api/inngest"])
    app = prod.app(server.url, KEY, port=app_port)
    server.start()
    server.wait_functions({FUNCTION})
    return server, app


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.timeout(180)
def test_a_healthy_set_up_passes_and_a_stopped_app_fails(prod: Production) -> None:
    server, app = healthy(prod)

    shown = doctor(prod, server)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert "FAIL" not in shown.stdout
    assert "0 failed" in shown.stdout
    code, found = checks(prod, server)
    assert code == 0
    assert about(found, app.url) == {
        "app.reachable": "pass",
        "app.mode": "pass",
        "app.signing_key": "pass",
        "app.event_key": "pass",
        "app.clock": "pass",
    }
    for id_ in ("server", "database", "expressions", "event_keys", "api.token"):
        assert one(found, id_)["verdict"] == "pass", one(found, id_)

    app.stop()
    stopped = doctor(prod, server)
    assert stopped.returncode == 1, stopped.stdout + stopped.stderr
    code, found = checks(prod, server)
    check = one(found, "app.reachable")
    assert (code, check["verdict"], check["subject"]) == (1, "fail", app.url)
    assert check["detail"].startswith(
        f"the server cannot reach the app accept-prodsync ({app.url}): unreachable"
    )
    assert check["fix"].startswith("start the app")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.timeout(120)
def test_an_app_holding_another_signing_key_fails_naming_the_app_and_the_fix(
    prod: Production,
) -> None:
    app_port = free_port()
    server = prod.server([f"http://127.0.0.1:{app_port}/api/inngest"])
    app = prod.app(server.url, OTHER_KEY, port=app_port)
    server.start()

    shown = doctor(prod, server)
    assert shown.returncode == 1, shown.stdout + shown.stderr
    assert "FAIL" in shown.stdout and "app.signing_key" in shown.stdout
    code, found = checks(prod, server)
    check = one(found, "app.signing_key")
    assert (code, check["verdict"], check["subject"]) == (1, "fail", app.url)
    assert (
        f"the app {app.url} rejected a probe signed with this server's signing key"
        in (check["detail"])
    )
    assert "INNGEST_SIGNING_KEY" in check["fix"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.timeout(120)
def test_an_app_left_in_dev_mode_fails_the_mode_check(prod: Production) -> None:
    app_port = free_port()
    server = prod.server([f"http://127.0.0.1:{app_port}/api/inngest"])
    # The production environment but INNGEST_DEV=1: a deploy that forgot to turn it off.
    env = {
        "INNGEST_DEV": "1",
        "INNGEST_SIGNING_KEY": KEY,
        "INNGEST_EVENT_KEY": EVENT_KEY,
        "INNGEST_BASE_URL": server.url,
    }
    app = ProductionApp(
        log_dir=prod.stack.log_dir,
        module=APP,
        server_url=server.url,
        record_file=prod.stack.records.path,
        port=app_port,
        env=env,
    )
    prod.stack.apps.append(app)
    app.start()
    server.start()

    code, found = checks(prod, server)
    check = one(found, "app.mode")
    assert (code, check["verdict"], check["subject"]) == (1, "fail", app.url)
    # Named by its app id once its (out-of-band) sync went through, by its URL before.
    assert app.url in check["detail"]
    assert check["detail"].endswith("runs in dev mode; inlet start is production")
    assert "INNGEST_DEV=0" in check["fix"]


def break_cancel_expression(database: str) -> None:
    """What an older inlet could have stored: a cancelOn condition that does not compile."""
    with sqlite3.connect(database) as db:
        [raw] = db.execute("SELECT config FROM functions WHERE slug = ?", (FUNCTION,)).fetchone()
        config = json.loads(raw)
        config["cancel"] = [{"event": "prodsync/stop", "if": "event.data.id == "}]
        db.execute(
            "UPDATE functions SET config = ? WHERE slug = ?",
            (json.dumps(config).encode(), FUNCTION),
        )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.timeout(180)
def test_a_stored_bad_expression_and_a_schema_behind_fail_with_their_fixes(
    prod: Production,
) -> None:
    server, app = healthy(prod)
    server.stop()
    database = prod.db.removeprefix("sqlite:///")
    break_cancel_expression(database)
    # Restarted without -u, so no new sync replaces what is stored.
    again = prod.server([], port=server.port)
    again.start()

    code, found = checks(prod, again)
    check = one(found, "expressions")
    assert (code, check["verdict"], check["subject"]) == (1, "fail", FUNCTION)
    assert check["detail"].startswith(f"function {FUNCTION!r}: cancel[0].if invalid expression")
    assert f"inlet apps sync {app.url}" in check["fix"]
    assert one(found, "database")["verdict"] == "pass"

    with sqlite3.connect(database) as db:
        [latest] = db.execute("SELECT max(version) FROM schema_version").fetchone()
        db.execute("DELETE FROM schema_version WHERE version = ?", (latest,))
    shown = doctor(prod, again)
    assert shown.returncode == 1, shown.stdout + shown.stderr
    code, found = checks(prod, again)
    check = one(found, "database")
    assert check["verdict"] == "fail"
    assert check["detail"] == (
        f"{prod.db} has schema version {latest - 1}; this inlet needs {latest}"
    )
    assert "migrates an SQLite file when it opens it" in check["fix"]
