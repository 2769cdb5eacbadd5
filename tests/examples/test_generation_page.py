"""The generation example's page in headless Chromium against the real ``inlet dev``: a
prompt typed and Generate clicked shows the session IN_PROGRESS, then COMPLETED with its
seeds, and the session joins the past ones. The offline generator is used (no model here)
and the page says so."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from acceptance.harness import ROOT, _clean_env
from ports import free_port

from .conftest import STACK_KEY, ExampleStack, missing

pytestmark = [pytest.mark.acceptance, pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = ROOT / ".pytest-output" / "screenshots"
FUNCTION = "generation-generate-seeds"


@pytest.fixture
def page() -> Iterator[Any]:
    if not CHROMIUM.exists():
        missing(f"{CHROMIUM} is missing; install Debian's chromium (scripts/bootstrap does)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("the playwright package is missing; run scripts/bootstrap")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            context = browser.new_context(viewport={"width": 1200, "height": 900})
            context.set_default_timeout(15_000)
            yield context.new_page()
        finally:
            browser.close()


@pytest.fixture
def example(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ExampleStack]:
    stack = ExampleStack(tmp_path)
    request.node.stash[STACK_KEY] = stack
    try:
        yield stack
    finally:
        stack.close()


@pytest.mark.timeout(180)
def test_generate_shows_in_progress_then_completed_with_the_seeds(
    example: ExampleStack, page: Any, tmp_path: Path
) -> None:
    port = free_port()
    app = example.example(
        "app-generation",
        "examples.generation.app:app",
        sys.executable,
        {
            "INNGEST_DEV": f"http://127.0.0.1:{port}",
            "GENERATION_DATABASE": str(tmp_path / "g.db"),
            "GENERATION_OFFLINE_DELAY": "2",
        },
    )
    app.start()
    server = example.server([app.serve_url], port=port)
    server.wait_functions([FUNCTION])

    page.goto(app.url)
    page.wait_for_selector("#generator.offline")
    assert "not a language model" in page.inner_text("#generator")
    page.fill("#prompt", "a lighthouse keeper who collects lost letters")
    page.click("#generate")
    page.wait_for_selector("#current .status.IN_PROGRESS")
    page.wait_for_selector("#current .status.COMPLETED", timeout=30_000)
    seeds = page.locator("#current ol li").all_inner_texts()
    assert len(seeds) == 5, seeds
    assert all("lighthouse keeper" in s for s in seeds), seeds
    page.wait_for_selector("#past section .status.COMPLETED")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "example-generation.png"), full_page=True)

    # The run behind it: the four steps, in order, and the session it completed.
    (session,) = httpx.get(f"{app.url}/api/sessions").json()["data"]
    runs = server.http.get("/v1/runs", params={"function": FUNCTION}).json()["data"]
    (run,) = runs
    assert run["status"] == "Completed", run
    assert run["output"] == {"session_id": session["id"], "status": "COMPLETED", "seeds": 5}
    history = str(server.history(run["run_id"]))
    names = ["load-session", "generate-seeds", "save-seeds", "update-session"]
    positions = [history.find(f"'{n}'") for n in names]
    assert all(p >= 0 for p in positions) and positions == sorted(positions), positions


def test_a_half_configured_endpoint_stops_the_app_naming_the_missing_variable() -> None:
    argv = [sys.executable, "-m", "uvicorn"]
    argv += ["examples.generation.app:app", "--port", str(free_port())]
    env = _clean_env({"INNGEST_DEV": "http://127.0.0.1:9", "GENERATION_API_URL": "http://x"})
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done
    assert "GENERATION_API_KEY is not set" in done.stderr, done.stderr
