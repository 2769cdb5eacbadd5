"""Operating from the dashboard of ``inlet dev`` in chromium, with the official-SDK
``accept-dash`` app: rerun a failed run from its failed step (the earlier step's output
kept, not run again), pause a function, send it events, resume it and replay the events
it skipped, bulk-replay the failed runs of a function since a time and watch the progress
reach done, invoke a function with a JSON payload from its page, and send an event from
the events page to read why a function did not run."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from acceptance.harness import TERMINAL, CoreStack, InletServer, Stack, start_app_stack

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

FUNCTIONS = [
    "accept-dash-hello",
    "accept-dash-charge",
    "accept-dash-flaky",
    "accept-dash-vip",
    "accept-dash-tick",
]
STACK: dict[str, Stack] = {}


@pytest.fixture(scope="module")
def dash(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CoreStack]:
    stack = Stack(tmp_path_factory.mktemp("dashboard-ops"))
    STACK["stack"] = stack
    try:
        yield start_app_stack(stack, "apps.dashboard_app:app", FUNCTIONS)
    finally:
        stack.close()


def started(server: InletServer, event: str, **data: Any) -> str:
    """The run the event started."""
    event_id = server.send_one(event, {"key": uuid.uuid4().hex, **data})
    [run] = server.runs_for_event(event_id, ended=False)
    return str(run["run_id"])


def ended(server: InletServer, run_id: str) -> dict[str, Any]:
    return server.wait_run(run_id, lambda r: r["status"] in TERMINAL, "to end", 60)


def app_base(dash: CoreStack) -> str:
    return dash.app.url.removesuffix("/api/inngest")


def shoot(page: Any, screenshots: Path, name: str) -> None:
    page.screenshot(path=str(screenshots / f"{name}.png"), full_page=True)


def minute_ago() -> str:
    """A ``datetime-local`` value (UTC, to the minute) just before now."""
    return datetime.fromtimestamp(time.time() - 60, UTC).strftime("%Y-%m-%dT%H:%M")


def test_a_failed_run_is_rerun_from_its_failed_step_keeping_the_earlier_output(
    dash: CoreStack, page: Any, screenshots: Path
) -> None:
    server, group = dash.server, uuid.uuid4().hex[:8]
    failed = started(server, "dash/flaky", group=group)
    assert ended(server, failed)["status"] == "Failed"
    assert httpx.post(f"{app_base(dash)}/dash/flag/{group}").status_code == 200

    page.goto(f"{server.url}/ui/runs/{failed}")
    assert page.locator("#failed-step").inner_text() == "check"
    assert page.locator("#rerun").count() == 1
    assert page.locator(".rerun-from").count() >= 1
    shoot(page, screenshots, "run-rerun-buttons")
    page.click("#rerun-failed-step")

    page.wait_for_url("**/ui/runs/*?done=rerun*")
    assert failed in page.locator("#rerun-of").inner_text()
    new_id = page.url.split("/ui/runs/")[1].split("?")[0]
    page.locator('#run-status .badge:text("Completed")').wait_for()
    assert new_id != failed
    assert server.run(new_id)["output"] == {"counted": 1, "check": "flag on"}
    # The first step's output was kept: the app counted one call, the first run's.
    assert httpx.get(f"{app_base(dash)}/dash/count/{group}").json() == {"count": 1}
    shoot(page, screenshots, "run-rerun-completed")


def test_a_paused_function_skips_events_that_a_replay_runs_after_it_resumes(
    dash: CoreStack, page: Any, screenshots: Path
) -> None:
    server = dash.server
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"{server.url}/ui/functions/accept-dash-hello")
    page.click("#pause")
    page.wait_for_url("**/ui/functions/accept-dash-hello?done=paused")
    assert page.locator("#fn-state").inner_text() == "Paused"
    names = [f"skipped-{i}-{uuid.uuid4().hex[:6]}" for i in range(2)]
    for name in names:
        event_id = server.send_one("dash/hello", {"name": name})
        assert server.runs(event_id) == []
    page.reload()
    assert page.locator("#skipped-count").inner_text() == "2"
    shoot(page, screenshots, "function-paused")

    page.click("#resume")
    page.wait_for_url("**/ui/functions/accept-dash-hello?done=resumed")
    page.uncheck("#bulk-status-failed")
    page.check("#bulk-status-skipped")
    page.fill("#bulk-since", minute_ago())
    page.fill("#bulk-name", "replay what the pause skipped")
    page.click("#bulk-preview")
    assert page.locator("#preview-count").inner_text() == "2"
    page.click("#bulk-confirm")
    page.wait_for_url("**/ui/bulk/*")
    page.locator('#bulk-state:text("done")').wait_for(timeout=30_000)
    assert page.locator("#bulk-changed").inner_text() == "2"

    page.goto(f"{server.url}/ui/runs?function=accept-dash-hello&range=15m")
    for name in names:
        found = page.locator("tr[data-run]", has=page.locator(f"text={name}"))
        assert found.count() == 0  # the output is not on the list; the run page shows it
    runs = server.http.get("/v1/runs", params={"function_id": "accept-dash-hello"}).json()
    outputs = [r.get("output") for r in runs["data"]]
    deadline = time.monotonic() + 30
    while not all({"greeting": f"hello {n}"} in outputs for n in names):
        assert time.monotonic() < deadline, outputs
        time.sleep(0.3)
        runs = server.http.get("/v1/runs", params={"function_id": "accept-dash-hello"}).json()
        outputs = [r.get("output") for r in runs["data"]]


def test_a_bulk_replay_of_the_failed_runs_since_a_time_shows_its_progress_to_done(
    dash: CoreStack, page: Any, screenshots: Path
) -> None:
    server = dash.server
    since = minute_ago()
    for order in ("o-1", "o-2", "o-3"):
        assert ended(server, started(server, "dash/charge", order=order))["status"] == "Failed"

    page.goto(f"{server.url}/ui/functions/accept-dash-charge")
    page.select_option("#bulk-kind", "replay")
    page.fill("#bulk-since", since)
    page.click("#bulk-preview")
    assert page.locator("#preview-count").inner_text() == "3"
    shoot(page, screenshots, "bulk-preview")
    page.click("#bulk-confirm")

    page.wait_for_url("**/ui/bulk/*")
    page.locator('#bulk-state:text("done")').wait_for(timeout=30_000)
    assert page.locator("#bulk-percent").inner_text() == "100%"
    assert page.locator("#bulk-changed").inner_text() == "3"
    shoot(page, screenshots, "bulk-progress")
    page.goto(f"{server.url}/ui/bulk")
    assert page.locator("tr[data-op]").count() >= 1
    shoot(page, screenshots, "bulk-list")


def test_a_function_is_invoked_with_a_json_payload_from_its_page(
    dash: CoreStack, page: Any, screenshots: Path
) -> None:
    server = dash.server
    for name in ("chart-a", "chart-b"):
        ended(server, started(server, "dash/hello", name=name))

    page.goto(f"{server.url}/ui/functions/accept-dash-hello")
    assert page.locator("#charts svg.chart").count() == 3
    page.fill("#invoke-data", '{"name": "json payload"}')
    shoot(page, screenshots, "function")
    page.click("#invoke")

    page.wait_for_url("**/ui/runs/*?done=invoked")
    page.locator('#run-status .badge:text("Completed")').wait_for()
    assert '"hello json payload"' in page.locator("#run-output").inner_text()

    invoked = page.url.split("/ui/runs/")[1].split("?")[0]
    page.goto(f"{server.url}/ui/runs")
    page.select_option("#filter-app", "accept-dash")
    page.wait_for_url("**/ui/runs?*app=accept-dash*")
    page.fill("#filter-expr", 'event.data.name == "json payload"')
    page.click("#run-filters button[type=submit]")
    page.wait_for_url("**/ui/runs?*expr=*")
    assert page.locator("tr[data-run]").evaluate_all("rows => rows.map(r => r.dataset.run)") == [
        invoked
    ]
    assert page.locator("#searched").inner_text().startswith("Searched ")
    shoot(page, screenshots, "runs-expression")

    page.goto(f"{server.url}/ui/functions/accept-dash-tick")
    assert page.locator("#next-fires li").count() == 5
    page.click("#run-now")
    page.wait_for_url("**/ui/runs/*?done=invoked")
    page.locator('#run-status .badge:text("Completed")').wait_for()
    page.goto(f"{server.url}/ui/functions")
    shoot(page, screenshots, "functions")


def test_an_event_sent_from_the_events_page_says_why_a_function_did_not_run(
    dash: CoreStack, page: Any, screenshots: Path
) -> None:
    server = dash.server
    page.goto(f"{server.url}/ui/events")
    page.click("#send summary")
    page.fill("#send-name", "dash/hello")
    page.fill("#send-data", '{"name": "from the form", "vip": false}')
    page.click("#send-event")

    page.wait_for_url("**/ui/events/*?done=sent")
    ran = page.locator("#event-runs tr[data-run]")
    ran.first.wait_for()
    assert ran.count() == 1 and "accept-dash-hello" in ran.inner_text()
    vip = page.locator('#why-not li[data-function="accept-dash-vip"]')
    assert "expression was not true: event.data.vip == true" in vip.inner_text()
    assert '"from the form"' in page.locator("#payload").inner_text()
    # The run it started turns Completed on this page by itself.
    page.locator('#event-runs .badge:text("Completed")').wait_for()
    shoot(page, screenshots, "event")

    page.goto(f"{server.url}/ui/events")
    event_id = server.send_one("dash/hello", {"name": "live"})
    page.locator(f'tr[data-event="{event_id}"]').wait_for(timeout=10_000)
    shoot(page, screenshots, "events")
