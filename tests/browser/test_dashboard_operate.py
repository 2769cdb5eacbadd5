"""The dashboard's operating views in chromium, against ``inlet dev`` and the official-SDK
``accept-dash`` app: a function whose first runs all fail raises an alert that every
page's navigation counts (an open page without a reload) and the alerts page shows with
its error and run; a run left with nothing to move it (its sleep's timer deleted from the
database) shows in the runs page's Stuck view with why, and an admin cancels it there;
the events list says what each event started or why nothing did; and a function's page
counts a new run without a reload."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from acceptance.harness import TERMINAL, CoreStack, InletServer, Stack, start_app_stack

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

FUNCTIONS = ["accept-dash-hello", "accept-dash-charge", "accept-dash-nap", "accept-dash-vip"]
STACK: dict[str, Stack] = {}


@pytest.fixture(scope="module")
def dash(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CoreStack]:
    stack = Stack(tmp_path_factory.mktemp("dashboard-operate"))
    STACK["stack"] = stack
    try:
        # The reaper is kept away from the run this test leaves stuck on purpose.
        yield start_app_stack(
            stack, "apps.dashboard_app:app", FUNCTIONS, extra_args=("--stuck-after", "3600")
        )
    finally:
        stack.close()


def started(server: InletServer, event: str, **data: Any) -> str:
    event_id = server.send_one(event, {"key": uuid.uuid4().hex, **data})
    [run] = server.runs_for_event(event_id, ended=False)
    return str(run["run_id"])


def shoot(page: Any, screenshots: Path, name: str) -> None:
    page.screenshot(path=str(screenshots / f"{name}.png"), full_page=True)


def test_a_function_whose_first_runs_fail_raises_an_alert_on_every_page(
    dash: CoreStack, page: Any, screenshots: Path
) -> None:
    server = dash.server
    page.goto(f"{server.url}/ui/runs")
    assert page.locator("#firing-count").count() == 0
    page.evaluate("window.notReloaded = true")
    runs = [started(server, "dash/charge", order=f"o-{n}") for n in range(3)]
    for run_id in runs:
        server.wait_run(run_id, lambda r: r["status"] in TERMINAL, "to end", 60)

    # The alerts loop looks every 10 s; the open page's count follows without a reload.
    page.locator('#firing-count:text-is("1")').wait_for(timeout=30_000)
    assert page.evaluate("window.notReloaded") is True
    page.goto(f"{server.url}/ui/functions")
    assert page.locator("#firing-count").inner_text() == "1"

    page.click(".nav-alerts")
    page.wait_for_url("**/ui/alerts")
    alert = page.locator("li.alert-item[data-state=firing]")
    assert alert.count() == 1
    assert "Function failing" in alert.locator(".alert-rule").inner_text()
    assert "accept-dash-charge" in alert.inner_text()
    error = alert.locator(".alert-error-line").inner_text()
    assert "card declined for order" in error
    newest = alert.locator("a.alert-run").inner_text()
    assert newest in runs
    shoot(page, screenshots, "alerts")

    page.click("#alerts-resolved")
    page.wait_for_url("**/ui/alerts?state=resolved")
    assert page.locator("#no-alerts").count() == 1
    page.click("#alerts-firing")
    page.locator("a.alert-run").click()
    page.wait_for_url(f"**/ui/runs/{newest}")
    assert page.locator("#run-status .badge").inner_text() == "Failed"


def test_a_run_left_with_nothing_to_move_it_shows_as_stuck_and_an_admin_cancels_it(
    dash: CoreStack, page: Any, screenshots: Path
) -> None:
    server = dash.server
    run_id = started(server, "dash/nap", seconds=600)
    server.wait_run(run_id, lambda r: r["inlet"]["steps"] >= 1, "to start its nap", 30)
    server.wait_history(
        run_id, lambda rows: any(r["outcome"] == "waiting" for r in rows), "to sleep"
    )
    # What a crash or a bug leaves: the sleep's timer gone. The run is also made older
    # than the view's minute, rather than waiting one.
    with sqlite3.connect(server.database_url.removeprefix("sqlite:///"), timeout=10) as db:
        assert db.execute("DELETE FROM queue WHERE run_id = ?", (run_id,)).rowcount == 1
        db.execute(
            "UPDATE runs SET created_at = created_at - 120, started_at = started_at - 120"
            " WHERE id = ?",
            (run_id,),
        )

    page.goto(f"{server.url}/ui/runs")
    page.click("#stuck-filter")
    page.wait_for_url("**/ui/runs?*stuck=1*")
    row = page.locator(f'#stuck-table tr[data-run="{run_id}"]')
    assert "its next call was lost" in row.locator(".stuck-why").inner_text()
    assert "Running since" in row.inner_text()
    assert "revivals" in page.locator("#reaper-note").inner_text()
    shoot(page, screenshots, "runs-stuck")

    page.once("dialog", lambda dialog: dialog.accept())
    row.locator(".stuck-cancel").click()
    page.wait_for_url(f"**/ui/runs/{run_id}?done=cancelled")
    assert page.locator("#run-status .badge").inner_text() == "Cancelled"
    page.goto(f"{server.url}/ui/runs?stuck=1")
    assert page.locator(f'tr[data-run="{run_id}"]').count() == 0


def test_the_events_list_says_what_each_event_started_or_why_nothing(
    dash: CoreStack, page: Any, screenshots: Path
) -> None:
    server = dash.server
    hello = server.send_one("dash/hello", {"name": "listed", "vip": False})
    [run] = server.runs_for_event(hello)
    nobody = server.send_one("dash/nobody-listens", {})

    page.goto(f"{server.url}/ui/events")
    row = page.locator(f'tr[data-event="{hello}"]')
    assert row.locator("a.runs-link").inner_text() == "1 run"
    skip = row.locator(".skip-line").inner_text()
    assert "accept-dash-vip" in skip and "event.data.vip == true" in skip
    assert "No function listens" in page.locator(f'tr[data-event="{nobody}"]').inner_text()
    shoot(page, screenshots, "events-runs")

    row.locator("a.runs-link").click()
    page.wait_for_url(f"**/ui/runs/{run['run_id']}")


def test_a_function_page_counts_a_new_run_without_a_reload(
    dash: CoreStack, page: Any, screenshots: Path
) -> None:
    server = dash.server
    page.goto(f"{server.url}/ui/functions/accept-dash-hello")
    before = int(page.locator("#stat-runs").inner_text())
    page.evaluate("window.notReloaded = true")
    # Its stream is open once the page has fetched itself for the first time.
    page.locator("#live[data-updated]").wait_for(state="attached")

    run_id = started(server, "dash/hello", name="live")
    server.wait_run(run_id, lambda r: r["status"] in TERMINAL, "to end", 30)

    page.locator(f'#stat-runs:text-is("{before + 1}")').wait_for(timeout=15_000)
    assert page.evaluate("window.notReloaded") is True
    assert page.locator("#stat-rate").inner_text() == "100%"
    shoot(page, screenshots, "function-live")
