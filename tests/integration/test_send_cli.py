"""`inlet send`: an event from a script, through the event API of a running server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from inlet.cli.main import cli
from ports import free_port

SRC = str(Path(__file__).resolve().parents[2] / "src")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """`inlet dev` on a fresh SQLite file; its base URL."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INLET_", "INNGEST_"))}
    env["PYTHONPATH"] = SRC
    argv = [sys.executable, "-m", "inlet", "dev", "--no-discovery", "--port", str(port),
            "--database-url", f"sqlite:///{tmp_path / 'inlet.db'}"]  # fmt: skip
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise AssertionError("inlet dev did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_an_event_sent_from_the_command_line_is_stored_with_its_data(server: str) -> None:
    result = CliRunner().invoke(
        cli, ["send", "app/report.due", "--data", '{"day": 3}', "--id", "day-3", "--url", server]
    )
    assert result.exit_code == 0, result.output
    [stored] = result.output.split()
    with urllib.request.urlopen(f"{server}/v1/events/{stored}", timeout=5) as resp:
        event = json.loads(resp.read())["data"]
    assert event["name"] == "app/report.due" and event["data"] == {"day": 3}


def test_data_that_is_not_a_json_object_is_refused_naming_the_value() -> None:
    result = CliRunner().invoke(cli, ["send", "app/x", "--data", "[1, 2]"])
    assert result.exit_code == 2
    assert "'[1, 2]' is a JSON list; expected an object" in result.output
    result = CliRunner().invoke(cli, ["send", "app/x", "--data", "{day: 3}"])
    assert result.exit_code == 2 and "'{day: 3}' is not JSON" in result.output


def test_a_server_that_is_not_there_is_named_with_the_flag_to_fix() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = CliRunner().invoke(cli, ["send", "app/x", "--url", url])
    assert result.exit_code == 1
    assert f"cannot reach {url}" in result.output and "--url" in result.output
