"""The PostgreSQL harness itself: tests/pgserver.py and the pg_server and pg_url fixtures."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from pgserver import PostgresError, PostgresServer, process_alive


def scalar(url: str, query: str) -> object:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(query).fetchone()
    assert row is not None
    return row[0]


@pytest.fixture
def own_server(pg_server: PostgresServer) -> Iterator[PostgresServer]:
    """A server of the test's own, for tests that stop or restart it (not the shared one)."""
    with (
        tempfile.TemporaryDirectory(prefix="inlet-pg-") as base,
        PostgresServer(Path(base), fast=True, bindir=pg_server.bindir) as server,
    ):
        yield server


def test_the_server_answers_select_1_on_the_returned_url(pg_url: str) -> None:
    assert scalar(pg_url, "SELECT 1") == 1


def test_the_server_listens_on_loopback_with_the_fast_settings(
    pg_server: PostgresServer, pg_url: str
) -> None:
    password = pg_server.password
    assert pg_url.startswith(f"postgresql://inlet:{password}@127.0.0.1:{pg_server.port}/")
    assert scalar(pg_url, "SHOW listen_addresses") == "127.0.0.1"
    assert scalar(pg_url, "SHOW fsync") == "off"
    assert scalar(pg_url, "SHOW synchronous_commit") == "off"
    assert scalar(pg_url, "SHOW max_connections") == "200"


def test_each_pg_url_is_a_database_of_its_own(pg_server: PostgresServer, pg_url: str) -> None:
    other = pg_server.create_database("harness_other")
    try:
        assert other != pg_url
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute("CREATE TABLE mine (x int)")
        assert scalar(pg_url, "SELECT current_database()") != scalar(
            other, "SELECT current_database()"
        )
        assert scalar(other, "SELECT to_regclass('mine') IS NULL") is True
    finally:
        pg_server.drop_database("harness_other")


def test_a_database_with_open_sessions_can_still_be_dropped(pg_server: PostgresServer) -> None:
    url = pg_server.create_database("harness_busy")
    with psycopg.connect(url) as leaked:
        pg_server.drop_database("harness_busy")
        with pytest.raises(psycopg.OperationalError):
            leaked.execute("SELECT 1")
    assert (
        scalar(
            pg_server.url("postgres"),
            "SELECT count(*) FROM pg_database WHERE datname = 'harness_busy'",
        )
        == 0
    )


def test_restart_keeps_the_data_and_the_port(own_server: PostgresServer) -> None:
    url = own_server.create_database("kept")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (x int)")
        conn.execute("INSERT INTO t VALUES (42)")
    port, pid = own_server.port, own_server.pid

    own_server.restart()

    assert own_server.port == port
    assert own_server.url("kept") == url
    assert own_server.pid != pid
    assert scalar(url, "SELECT x FROM t") == 42


def test_the_postmaster_pid_is_live_while_running_and_gone_after_stop(
    own_server: PostgresServer,
) -> None:
    pid = own_server.pid
    assert pid is not None
    assert process_alive(pid)

    own_server.stop()

    assert not process_alive(pid)
    assert own_server.pid is None
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(own_server.url("postgres"), connect_timeout=2)


def test_kill_is_a_crash_a_durable_server_recovers_from(pg_server: PostgresServer) -> None:
    # fast=False: with synchronous_commit off, a crash may lose the last commits by design.
    with (
        tempfile.TemporaryDirectory(prefix="inlet-pg-") as base,
        PostgresServer(Path(base), fast=False, bindir=pg_server.bindir) as server,
    ):
        url = server.url("postgres")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE survived (x int)")
            conn.execute("INSERT INTO survived VALUES (7)")
        pid = server.pid
        assert pid is not None

        server.kill()
        assert not process_alive(pid)
        server.start()

        assert scalar(url, "SELECT x FROM survived") == 7


def test_a_base_directory_the_server_user_cannot_reach_is_named_in_the_error(
    pg_server: PostgresServer,
) -> None:
    if os.geteuid() != 0:
        pytest.skip("only root runs PostgreSQL as another user")
    with tempfile.TemporaryDirectory(prefix="inlet-private-") as private:  # mode 0700, root's
        server = PostgresServer(Path(private) / "pg", bindir=pg_server.bindir)
        with pytest.raises(PostgresError, match=f"{private} .* cannot be entered"):
            server.start()
        assert server.pid is None
