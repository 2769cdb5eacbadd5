"""Fixtures for acceptance tests; the machinery itself lives in ``harness.py``."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from pgserver import PostgresServer

from .harness import STARTED, CoreStack, Stack, migrate, start_core
from .log_scan import leaks, passwordless_databases

STACK_KEY = pytest.StashKey[Stack]()
DATABASE_PASSWORDS: list[str] = []
"""The password of the session's PostgreSQL server, once a test has asked for it."""


@pytest.fixture(scope="session", autouse=True)
def no_secret_in_any_log() -> Iterator[None]:
    """After the whole acceptance run: no inlet log holds a key, token or password, and
    every PostgreSQL database an inlet process used had a password to look for."""
    yield
    found = leaks(STARTED, also=DATABASE_PASSWORDS)
    assert not found, "secrets in inlet logs:\n" + "\n".join(sorted(set(found)))
    bare = passwordless_databases(STARTED)
    assert not bare, f"PostgreSQL URLs without a password, so nothing to scan for: {bare}"


@pytest.fixture(scope="session")
def pg_server(pg_server: PostgresServer) -> PostgresServer:
    """The session's PostgreSQL server (tests/conftest.py), its password noted for the scan."""
    DATABASE_PASSWORDS.append(pg_server.password)
    return pg_server


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Every acceptance test runs on the embedded SQLite file and on a real PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'inlet.db'}"
    url: str = request.getfixturevalue("pg_url")
    migrate(url)
    return url


@pytest.fixture
def stack(request: pytest.FixtureRequest, tmp_path: Path, database_url: str) -> Iterator[Stack]:
    """A registry of the processes a test starts; all are stopped at teardown."""
    stack = Stack(tmp_path, database_url)
    request.node.stash[STACK_KEY] = stack
    try:
        yield stack
    finally:
        stack.close()


@pytest.fixture
def core(stack: Stack) -> CoreStack:
    """The inlet server (default options) with the ``accept`` app synced to it."""
    return start_core(stack)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """On failure, attach every process log (and the side-effect journal) to the report."""
    report = yield
    stack = item.stash.get(STACK_KEY, None)
    if stack is not None and report.failed:
        for name, text in stack.log_sections():
            report.sections.append((f"{name} ({report.when})", text))
    return report
