"""The dashboard of ``inlet start`` in chromium: a login page that takes a user's password
(``inlet users create``) or an API token (``inlet tokens create``), logout, an admin who
syncs a production SDK app by URL and cancels its sleeping run, and a viewer who sees no
change button and whose forged POSTs, like an admin's without the CSRF token, get 403."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from acceptance.harness import InletServer, Stack
from acceptance.test_production_keys import EVENT_KEY, KEY_A, ProdApp, app_env

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

PASSWORD = "a long enough password"
STACK: dict[str, Stack] = {}


@dataclass
class Start:
    stack: Stack
    server: InletServer
    app: ProdApp
    viewer_token: str


def inlet(server: InletServer, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "inlet", *args],
        env={**server.process.env, "INLET_DATABASE_URL": server.database_url},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture(scope="module")
def start(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Start]:
    """inlet start on SQLite, its tokens and users made before it opens the file, and a
    production app (signing key A) that it has not synced yet."""
    stack = Stack(tmp_path_factory.mktemp("dashboard-start"))
    STACK["stack"] = stack
    try:
        server = stack.server([], start=False)
        keys = stack.tmp_path / "signing-key"
        keys.write_text(KEY_A + "\n")
        events = stack.tmp_path / "event-keys"
        events.write_text(EVENT_KEY + "\n")
        argv = ["start" if arg == "dev" else arg for arg in server.process.argv]
        argv = argv[: argv.index("--retry-interval") + 2]
        server.process.argv = [
            *argv,
            *("--signing-key-file", str(keys), "--event-key-file", str(events)),
        ]
        password = stack.tmp_path / "password"
        password.write_text(PASSWORD + "\n")
        for name, role in (("ada", "admin"), ("vic", "viewer")):
            inlet(server, "users", "create", name, "--role", role, "--password-file", str(password))
        admin = inlet(server, "tokens", "create", "--role", "admin", "--name", "browser")
        viewer = inlet(server, "tokens", "create", "--role", "viewer", "--name", "reader")
        server.http.headers["Authorization"] = f"Bearer {admin}"
        server.start()
        app = ProdApp(
            log_dir=stack.log_dir,
            module="apps.dashboard_app:app",
            server_url=server.url,
            record_file=stack.records.path,
            env=app_env(server, KEY_A),
        )
        stack.apps.append(app)
        app.start()
        yield Start(stack, server, app, viewer)
    finally:
        stack.close()


def shoot(page: Any, screenshots: Path, name: str) -> None:
    page.screenshot(path=str(screenshots / f"{name}.png"), full_page=True)


def log_in(page: Any, base: str, name: str) -> None:
    page.goto(f"{base}/ui/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-user")
    page.wait_for_url("**/ui/runs")


def csrf_of(page: Any) -> str:
    return str(page.locator("input[name=csrf]").first.get_attribute("value"))


def test_a_user_logs_in_with_a_password_and_out_again(
    start: Start, page: Any, screenshots: Path
) -> None:
    base = start.server.url
    page.goto(f"{base}/")
    page.wait_for_url(re.compile(r".*/ui/login\?next=.*"))
    shoot(page, screenshots, "login")

    page.fill("input[name=name]", "ada")
    page.fill("input[name=password]", "not the password")
    page.click("#login-user")
    assert "not one this server accepts" in page.locator(".alert-error").inner_text()
    shoot(page, screenshots, "login-failed")

    page.fill("input[name=password]", PASSWORD)
    page.click("#login-user")
    page.wait_for_url("**/ui/runs")
    assert page.locator(".who-name").inner_text() == "ada"
    [cookie] = [c for c in page.context.cookies() if c["name"] == "inlet_session"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"

    page.click("#logout")
    page.wait_for_url("**/ui/login")
    page.goto(f"{base}/ui/apps")
    assert "/ui/login?next=" in page.url


def test_an_admin_syncs_an_app_by_url_and_cancels_its_sleeping_run(
    start: Start, page: Any, screenshots: Path
) -> None:
    base = start.server.url
    page.goto(f"{base}/ui/login")
    page.click("[data-tab=token]")
    page.fill("input[name=token]", start.server.http.headers["Authorization"][7:])
    page.click("#login-token")
    page.wait_for_url("**/ui/runs")
    assert page.locator(".who-name").inner_text() == "token browser"

    page.goto(f"{base}/ui/apps")
    page.fill("#sync-url", start.app.url)
    page.click("#sync-new button[type=submit]")
    page.locator("#sync-ok").wait_for()
    assert "accept-dash-nap" in page.locator(f'[data-app="{start.app.url}"]').inner_text()
    start.server.wait_functions(["accept-dash-nap"])

    event_id = start.server.send_one("dash/nap", {"key": uuid.uuid4().hex, "seconds": 120})
    [run] = start.server.runs_for_event(event_id, ended=False)
    run_id = run["run_id"]
    start.server.wait_run(run_id, lambda r: r["inlet"]["steps"] >= 1, "to start its nap", 30)

    # Without the form's CSRF token, even an admin's POST is refused.
    refused = page.request.post(f"{base}/ui/runs/{run_id}/cancel", form={"x": "1"})
    assert refused.status == 403
    assert start.server.run(run_id)["status"] == "Running"

    page.goto(f"{base}/ui/runs/{run_id}")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#cancel-run")
    page.wait_for_url(f"**/ui/runs/{run_id}?done=cancelled")
    assert page.locator("#run-status .badge").inner_text() == "Cancelled"
    assert start.server.run(run_id)["status"] == "Cancelled"


def test_a_viewer_sees_no_change_button_and_a_forged_post_gets_403(
    start: Start, page: Any, screenshots: Path
) -> None:
    base = start.server.url
    start.server.wait_functions(["accept-dash-nap"])
    event_id = start.server.send_one("dash/nap", {"key": uuid.uuid4().hex, "seconds": 120})
    [run] = start.server.runs_for_event(event_id, ended=False)
    run_id = run["run_id"]
    start.server.wait_run(run_id, lambda r: r["inlet"]["steps"] >= 1, "to start its nap", 30)
    log_in(page, base, "vic")

    page.goto(f"{base}/ui/runs/{run_id}")
    assert page.locator("#run-status .badge").inner_text() == "Running"
    assert page.locator("#cancel-run").count() == 0
    assert page.locator("#rerun").count() == page.locator(".rerun-from").count() == 0
    shoot(page, screenshots, "viewer-run")
    # None of the operating buttons either: pause, invoke, run now, bulk, send an event.
    page.goto(f"{base}/ui/functions/accept-dash-tick")
    assert page.locator("#charts svg.chart").count() == 3
    for button in ("#pause", "#resume", "#invoke", "#run-now", "#bulk-form"):
        assert page.locator(button).count() == 0, button
    shoot(page, screenshots, "viewer-function")
    page.goto(f"{base}/ui/events")
    assert page.locator("#send-form").count() == 0
    page.goto(f"{base}/ui/bulk")
    assert page.locator("#bulk-stop").count() == 0
    page.goto(f"{base}/ui/apps")
    assert page.locator(f'[data-app="{start.app.url}"]').count() == 1
    assert page.locator(".sync-button").count() == 0 and page.locator("#sync-new").count() == 0
    shoot(page, screenshots, "viewer-apps")

    # The viewer's own session and CSRF token (from the logout form), forged into a cancel.
    forged = page.request.post(
        f"{base}/ui/runs/{run_id}/cancel", form={"csrf": csrf_of(page)}, headers={"Origin": base}
    )
    assert forged.status == 403 and "viewer" in forged.text()
    sync = page.request.post(
        f"{base}/ui/apps/sync", form={"csrf": csrf_of(page), "url": start.app.url}
    )
    assert sync.status == 403
    for path, fields in [
        (f"/ui/runs/{run_id}/rerun", {}),
        ("/ui/functions/accept-dash-nap/pause", {}),
        ("/ui/functions/accept-dash-tick/invoke", {"data": "{}"}),
        ("/ui/events/send", {"name": "dash/nap", "data": "{}"}),
    ]:
        forged = page.request.post(
            f"{base}{path}", form={"csrf": csrf_of(page), **fields}, headers={"Origin": base}
        )
        assert forged.status == 403, path
    viewer = {"Authorization": f"Bearer {start.viewer_token}"}
    assert httpx.get(f"{base}/v1/runs/{run_id}", headers=viewer).status_code == 200
    assert httpx.delete(f"{base}/v1/runs/{run_id}", headers=viewer).status_code == 403
    assert start.server.run(run_id)["status"] == "Running"
    start.server.http.delete(f"/v1/runs/{run_id}")


def test_a_viewer_reads_the_alerts_and_the_stuck_runs_without_a_button(
    start: Start, page: Any, screenshots: Path
) -> None:
    base, server = start.server.url, start.server
    server.wait_functions(["accept-dash-nap"])
    event_id = server.send_one("dash/nap", {"key": uuid.uuid4().hex, "seconds": 600})
    [run] = server.runs_for_event(event_id, ended=False)
    run_id = run["run_id"]
    server.wait_history(
        run_id, lambda rows: any(r["outcome"] == "waiting" for r in rows), "to sleep"
    )
    # Its sleep's timer lost, and the run made older than the stuck view's minute.
    with sqlite3.connect(server.database_url.removeprefix("sqlite:///"), timeout=10) as db:
        assert db.execute("DELETE FROM queue WHERE run_id = ?", (run_id,)).rowcount == 1
        db.execute(
            "UPDATE runs SET created_at = created_at - 120, started_at = started_at - 120"
            " WHERE id = ?",
            (run_id,),
        )
    log_in(page, base, "vic")

    page.click("#stuck-filter")
    page.wait_for_url("**/ui/runs?*stuck=1*")
    assert page.locator(f'#stuck-table tr[data-run="{run_id}"]').count() == 1
    assert page.locator(".stuck-cancel").count() == 0
    assert "Cancel one here" not in page.locator("#reaper-note").inner_text()
    shoot(page, screenshots, "viewer-stuck")
    page.click(".nav-alerts")
    page.wait_for_url("**/ui/alerts")
    assert page.locator("main form").count() == 0
    page.goto(f"{base}/ui/functions/accept-dash-nap")
    assert page.locator("#live[data-live]").count() == 1
    assert page.locator("main form[method=post]").count() == 0
    forged = page.request.post(
        f"{base}/ui/runs/{run_id}/cancel", form={"csrf": csrf_of(page)}, headers={"Origin": base}
    )
    assert forged.status == 403
    assert server.run(run_id)["status"] == "Running"
    server.http.delete(f"/v1/runs/{run_id}")
