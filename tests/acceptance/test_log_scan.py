"""The end-of-run log scan finds what it is there to find (it runs on its own at the end of
every acceptance run; these check it on made-up logs, with no inlet process started), and
the acceptance database has a password for it to look for."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from pgserver import PostgresServer

from .harness import ManagedProcess
from .log_scan import configured_secrets, leaks, passwordless_databases

KEY = "signkey-prod-" + "c3" * 32
TOKEN = "inlet_" + "Q" * 43


def process_with_log(tmp_path: Path, text: str, **env: str) -> ManagedProcess:
    process = ManagedProcess("inlet", ["inlet", "start", "--event-key", "ev-key-12345"],
                             env, tmp_path)  # fmt: skip
    log = tmp_path / "inlet.0.log"
    log.write_text(f"$ inlet start --signing-key {KEY}\n{text}")
    process.log_paths.append(log)
    return process


def test_a_clean_log_passes_even_though_the_command_line_names_the_key(tmp_path: Path) -> None:
    clean = process_with_log(tmp_path, "server.started key=sha256:0123456789ab\n",
                             INLET_SIGNING_KEY=KEY)  # fmt: skip
    assert leaks([clean]) == []


def test_a_signing_key_with_or_without_its_prefix_is_found(tmp_path: Path) -> None:
    for shown in (KEY, "c3" * 32):
        leaky = process_with_log(tmp_path, f"oops {shown}\n", INLET_SIGNING_KEY=KEY)
        assert set(leaks([leaky])) == {f"{tmp_path / 'inlet.0.log'}: a configured secret"}


def test_an_event_key_a_database_password_and_a_token_are_found(tmp_path: Path) -> None:
    url = "postgresql://inlet:pg-pass-9876@db/inlet"
    for shown in ("ev-key-12345", "pg-pass-9876", TOKEN):
        leaky = process_with_log(tmp_path, f"oops {shown}\n", INLET_DATABASE_URL=url)
        assert leaks([leaky]), shown


def test_a_database_password_is_looked_for_in_every_log_not_only_its_own(
    tmp_path: Path,
) -> None:
    url = "postgresql://inlet:pg-pass-9876@db/inlet"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    given = process_with_log(tmp_path / "a", "clean\n", INLET_DATABASE_URL=url)
    other = process_with_log(tmp_path / "b", "oops pg-pass-9876\n")
    assert leaks([given, other]) == [f"{tmp_path / 'b' / 'inlet.0.log'}: a configured secret"]
    assert leaks([other], also=["pg-pass-9876"])
    assert leaks([other]) == []


def test_a_postgresql_url_without_a_password_is_named(tmp_path: Path) -> None:
    bare = "postgresql://inlet@127.0.0.1:5432/inlet"
    runs = [
        process_with_log(tmp_path, "", INLET_DATABASE_URL=bare),
        process_with_log(tmp_path, "", INLET_DATABASE_URL="postgresql://inlet:pw-12345678@db/x"),
        process_with_log(tmp_path, "", INLET_DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}"),
    ]
    assert passwordless_databases(runs) == [bare]


def test_the_acceptance_database_needs_the_password_the_scan_looks_for(
    tmp_path: Path, pg_server: PostgresServer, pg_url: str
) -> None:
    password = urlsplit(pg_url).password
    assert password == pg_server.password and len(password) >= 32
    with psycopg.connect(pg_url, connect_timeout=5) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    for refused in (pg_url.replace(f":{password}@", "@"), pg_url.replace(password, "x" * 32)):
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(refused, connect_timeout=5)
    process = process_with_log(tmp_path, "", INLET_DATABASE_URL=pg_url)
    assert password in configured_secrets(process)
