"""The dashboard of ``inlet dev`` in chromium, with the official-SDK ``accept-dash`` app:
the runs list shows and filters real runs and updates live, a failed run's page shows
what failed, where and with what error above the fold, a running run turns Completed
without a reload, a sleeping run is cancelled from its page, an app is synced by URL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from acceptance.harness import TERMINAL, CoreStack, InletServer, Stack, start_app_stack

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

FUNCTIONS = ["accept-dash-hello", "accept-dash-charge", "accept-dash-nap"]
STACK: dict[str, Stack] = {}


@pytest.fixture(scope="module")
def dash(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CoreStack]:
    stack = Stack(tmp_path_factory.mktemp("dashboard-dev"))
    STACK["stack"] = stack
    try:
        yield start_app_stack(stack, "apps.dashboard_app:app", FUNCTIONS)
    finally:
        stack.close()


def send(server: InletServer, event: str, **data: Any) -> str:
    """The run the event started (waited for)."""
    event_id = server.send_one(event, {"key": uuid.uuid4().hex, **data})
    [run] = server.runs_for_event(event_id, ended=False)
    return str(run["run_id"])


def ended(server: InletServer, run_id: str) -> dict[str, Any]:
    return server.wait_run(run_id, lambda r: r["status"] in TERMINAL, "to end", 60)


def shoot(page: Any, screenshots: Path, name: str) -> None:
    page.screenshot(path=str(screenshots / f"{name}.png"), full_page=True)


def badge(page: Any) -> str:
    return str(page.locator("#run-status .badge").inner_text())


def test_the_runs_list_shows_real_runs_and_filters_by_status_and_function(
    dash: CoreStack, page: Any, screenshots: Path
) -> None:
    server = dash.server
    hellos = [send(server, "dash/hello", name=n) for n in ("ada", "grace")]
    failed = send(server, "dash/charge", order="o-17")
    for run_id in [*hellos, failed]:
        ended(server, run_id)

    page.goto(f"{server.url}/")
    assert page.url.endswith("/ui/runs")
    for run_id in [*hellos, failed]:
        assert page.locator(f'tr[data-run="{run_id}"]').count() == 1
    row = page.locator(f'tr[data-run="{failed}"]')
    assert row.get_attribute("data-status") == "Failed"
    assert "card declined for order o-17" in row.locator(".error-cell").inner_text()
    shoot(page, screenshots, "runs")

    page.select_option("#filter-status", "FAILED")
    page.wait_for_url("**/ui/runs?*status=FAILED*")
    assert page.locator(f'tr[data-run="{failed}"]').count() == 1
    assert page.locator('tr[data-run]:not([data-status="Failed"])').count() == 0
    shoot(page, screenshots, "runs-failed")

    page.select_option("#filter-status", "")
    page.select_option("#filter-function", "accept-dash-hello")
    page.wait_for_url("**/ui/runs?*function=accept-dash-hello*")
    shown = page.locator("tr[data-run]").evaluate_all("rows => rows.map(r => r.dataset.run)")
    assert set(hellos) <= set(shown) and failed not in shown


def test_a_failed_runs_page_shows_the_step_the_error_and_the_stack_without_scrolling(
    dash: CoreStack, page: Any, screenshots: Path
) -> None:
    run_id = send(dash.server, "dash/charge", order="o-42")
    assert ended(dash.server, run_id)["status"] == "Failed"

    page.goto(f"{dash.server.url}/ui/runs/{run_id}")

    assert badge(page) == "Failed"
    assert page.locator("#failed-step").inner_text() == "charge card"
    error = page.locator("#failure-error").inner_text()
    assert "card declined for order o-42: insufficient funds" in error
    stack = page.locator("#failure-stack")
    assert "CardDeclinedError" in stack.inner_text() or "_charge" in stack.inner_text()
    height = page.viewport_size["height"]
    for element in (page.locator("#failed-step"), page.locator("#failure-error"), stack):
        box = element.bounding_box()
        assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= height, box
    assert page.evaluate("window.scrollY") == 0
    # Each attempt of the failing step is its own bar in the waterfall.
    assert page.locator(".wf-row.wf-failed").count() >= 2
    page.screenshot(path=str(screenshots / "run-failed-fold.png"))
    shoot(page, screenshots, "run-failed")


def test_a_running_run_turns_completed_on_its_page_without_a_reload(
    dash: CoreStack, page: Any, screenshots: Path
) -> None:
    run_id = send(dash.server, "dash/nap", seconds=4)
    dash.server.wait_run(run_id, lambda r: r["inlet"]["steps"] >= 1, "to start its nap", 30)

    page.goto(f"{dash.server.url}/ui/runs/{run_id}")
    assert badge(page) == "Running"
    page.evaluate("window.__notReloaded = true")
    shoot(page, screenshots, "run-running")

    page.locator("#run-status .badge", has_text="Completed").wait_for(timeout=20_000)
    assert page.evaluate("window.__notReloaded") is True
    assert "rested" in page.locator("#run-output").inner_text()
    shoot(page, screenshots, "run-completed")


def test_the_runs_list_shows_a_new_run_without_a_reload(
    dash: CoreStack, page: Any, screenshots: Path
) -> None:
    page.goto(f"{dash.server.url}/ui/runs")
    page.evaluate("window.__notReloaded = true")

    run_id = send(dash.server, "dash/hello", name="live")

    page.locator(f'tr[data-run="{run_id}"]').wait_for(timeout=10_000)
    page.locator(f'tr[data-run="{run_id}"][data-status="Completed"]').wait_for(timeout=15_000)
    assert page.evaluate("window.__notReloaded") is True


def test_a_sleeping_run_is_cancelled_from_its_page(
    dash: CoreStack, page: Any, screenshots: Path
) -> None:
    run_id = send(dash.server, "dash/nap", seconds=120)
    dash.server.wait_run(run_id, lambda r: r["inlet"]["steps"] >= 1, "to start its nap", 30)
    page.goto(f"{dash.server.url}/ui/runs/{run_id}")
    assert badge(page) == "Running"
    # What it waits for, with the deadline: its two-minute nap.
    sleep = page.locator("#waits tr.wait", has_text="Sleep")
    sleep.wait_for()
    assert "nap" in sleep.inner_text() and "in 1 min" in sleep.inner_text()
    shoot(page, screenshots, "run-sleeping")
    page.once("dialog", lambda dialog: dialog.accept())

    page.click("#cancel-run")

    page.wait_for_url(f"**/ui/runs/{run_id}?done=cancelled")
    assert badge(page) == "Cancelled"
    assert page.locator("#cancel-run").count() == 0
    assert dash.server.run(run_id)["status"] == "Cancelled"
    shoot(page, screenshots, "run-cancelled")


def test_an_app_is_synced_by_its_url_from_the_apps_page(
    dash: CoreStack, page: Any, screenshots: Path
) -> None:
    other = dash.stack.app("apps.time_app:app", server_url=dash.server.url)
    page.goto(f"{dash.server.url}/ui/apps")
    assert page.locator(f'[data-app="{other.url}"]').count() == 0

    page.fill("#sync-url", other.url)
    page.click("#sync-new button[type=submit]")

    page.locator("#sync-ok").wait_for()
    card = page.locator(f'[data-app="{other.url}"]')
    assert "accept-time" in card.locator("h2").inner_text()
    assert "accept-time-sleeper" in card.locator(".fn-list").inner_text()
    dash.server.wait_functions(["accept-time-sleeper"])
    shoot(page, screenshots, "apps")


def test_the_functions_and_events_pages_list_what_the_server_knows(
    dash: CoreStack, page: Any, screenshots: Path
) -> None:
    send(dash.server, "dash/hello", name="events")
    page.goto(f"{dash.server.url}/ui/functions")
    for slug in FUNCTIONS:
        assert page.locator(f"text={slug}").count() >= 1
    shoot(page, screenshots, "functions")
    page.goto(f"{dash.server.url}/ui/events")
    assert page.locator("td", has_text="dash/hello").count() >= 1
    shoot(page, screenshots, "events")
