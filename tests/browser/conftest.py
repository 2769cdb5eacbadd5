"""The browser tier: Playwright drives Debian's chromium (``/usr/bin/chromium``, installed
by ``scripts/bootstrap``; Playwright never downloads a browser here) against the real
``inlet`` process and official-SDK apps of the acceptance harness.

Without chromium or Playwright the tier is skipped locally but fails when ``CI`` is set:
a browser test must never pass in CI by not running. Screenshots of every page go to
``.pytest-output/screenshots/`` (gitignored) to be looked at."""

from __future__ import annotations

import os
import shutil
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from acceptance.harness import ROOT, STARTED
from acceptance.log_scan import leaks

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
VIEWPORT = {"width": 1440, "height": 900}


def _missing() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing; install Debian's chromium (scripts/bootstrap does)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is missing; run scripts/bootstrap"
    return None


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    reason = _missing()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set, so the browser tests must run: {reason}", pytrace=False)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True)
    return SCREENSHOTS


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(15_000)
    opened = context.new_page()
    try:
        yield opened
    finally:
        context.close()


@pytest.fixture(scope="session", autouse=True)
def no_secret_in_any_log() -> Iterator[None]:
    """After the tier: no inlet log holds a key, token or password."""
    yield
    found = leaks(STARTED)
    assert not found, "secrets in inlet logs:\n" + "\n".join(sorted(set(found)))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """On failure, attach every process log to the report."""
    report = yield
    stack = getattr(item.module, "STACK", {}).get("stack")
    if stack is not None and report.failed:
        for name, text in stack.log_sections():
            report.sections.append((f"{name} ({report.when})", text))
    return report
