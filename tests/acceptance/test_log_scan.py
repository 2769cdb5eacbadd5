"""The end-of-run log scan finds what it is there to find (it runs on its own at the end of
every acceptance run; these check it on made-up logs, with no process started)."""

from __future__ import annotations

from pathlib import Path

from .harness import ManagedProcess
from .log_scan import leaks

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
