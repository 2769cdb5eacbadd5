"""Fixtures shared by every test tier: a real PostgreSQL server, started only when asked for."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from pgserver import PostgresServer


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """One fast (fsync off) PostgreSQL server for the whole session, stopped at its end.

    Without PostgreSQL binaries the test is skipped locally but fails when ``CI`` is set:
    a test that needs PostgreSQL must never pass in CI by not running.
    """
    if PostgresServer.find_bindir() is None:
        reason = (
            "PostgreSQL server binaries not found (no initdb in $INLET_PG_BINDIR, "
            "`pg_config --bindir` or /usr/lib/postgresql/*/bin); run scripts/bootstrap as "
            "root or `apt-get install postgresql`"
        )
        if os.environ.get("CI"):
            pytest.fail(f"CI is set, so PostgreSQL is required: {reason}", pytrace=False)
        pytest.skip(reason)
    # Not tmp_path_factory: pytest's /tmp/pytest-of-root is 0700, out of the postgres
    # user's reach when we run as root.
    base = Path(tempfile.mkdtemp(prefix="inlet-pg-"))
    try:
        with PostgresServer(base, fast=True) as server:
            yield server
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server: PostgresServer, request: pytest.FixtureRequest) -> Iterator[str]:
    """The url of a fresh, empty database of its own for this test, dropped afterwards
    (with the server's password: PostgreSQL refuses TCP connections without it)."""
    slug = re.sub(r"[^a-z0-9]+", "_", request.node.name.lower()).strip("_")[:40]
    name = f"t_{slug}_{uuid.uuid4().hex[:12]}"
    url = pg_server.create_database(name)
    try:
        yield url
    finally:
        # A connection the test leaked must not fail the test; drop_database ends it first.
        with contextlib.suppress(psycopg.Error):
            pg_server.drop_database(name)
