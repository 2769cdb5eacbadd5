"""Alert rules from a file with the real server: ``inlet dev --alert-rules`` with a file
that evaluates every second, fires ``function.failing`` at the first failed run of the
official-SDK app (``first_runs = 1``) and ``app.unreachable`` after 2 s of failed syncs
(not at the first), both seen at ``GET /v1/alerts``; and a bad file stops ``inlet dev``
before it serves, naming the file, the line and the key.

Run on SQLite and PostgreSQL: the app's failing-since time is a column of both schemas."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from ports import free_port

from .harness import ROOT, Stack, wait_for

pytestmark = [pytest.mark.acceptance, pytest.mark.slow]

FUNCTION = "accept-alert-charge"
RULES = """\
interval = "1s"

[rules."function.failing"]
runs = 5
first_runs = 1

[rules."app.unreachable"]
after = "2s"
"""


def firing(server: Any, rule: str) -> dict[str, Any] | None:
    server.process.assert_running()
    resp = server.http.get("/v1/alerts", params={"state": "firing"})
    assert resp.status_code == 200, resp.text
    found = [a for a in resp.json()["data"] if a["rule"] == rule]
    return found[0] if found else None


@pytest.mark.timeout(240)
def test_a_rules_file_tunes_the_rules_of_a_real_server(stack: Stack, tmp_path: Path) -> None:
    rules = tmp_path / "alerts.toml"
    rules.write_text(RULES)
    port = free_port()
    app = stack.app("apps.alert_app:app", server_url=f"http://127.0.0.1:{port}")
    gone = f"http://127.0.0.1:{free_port()}/api/inngest"
    server = stack.server(
        [app.url, gone], port=port, poll_interval=1.0, extra_args=("--alert-rules", str(rules))
    )
    server.wait_functions([FUNCTION])

    server.send_one("alert/order", {"n": 1})
    failed = wait_for(lambda: firing(server, "function.failing"), 60, "function.failing", 0.2)
    assert failed["function"] == FUNCTION
    assert "KeyError" in failed["error"] and "ACCEPT_STRIPE_KEY" in failed["error"], failed
    assert failed["summary"]["failed_runs"] == 1

    unreachable = wait_for(lambda: firing(server, "app.unreachable"), 60, "app.unreachable", 0.2)
    assert unreachable["subject"] == gone, unreachable
    fired_at = datetime.fromisoformat(unreachable["fired_at"].replace("Z", "+00:00"))
    failing_since = float(unreachable["summary"]["failing_since"])
    assert fired_at.timestamp() >= failing_since + 2.0, "it fires once failing for 2 s"
    # Syncs keep failing: the alert stays the one firing.
    resp = server.http.get("/v1/alerts")
    found = [a for a in resp.json()["data"] if a["rule"] == "app.unreachable"]
    assert [a["id"] for a in found] == [unreachable["id"]]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.timeout(120)
def test_a_bad_rules_file_stops_inlet_dev_naming_the_file_the_line_and_the_key(
    stack: Stack, tmp_path: Path
) -> None:
    rules = tmp_path / "alerts.toml"
    rules.write_text('interval = "1s"\n\n[rules."run.no_progress"]\nafter = "an hour"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("INLET_")}
    env["PYTHONPATH"] = str(ROOT / "src")
    argv = [sys.executable, "-m", "inlet", "dev", "--port", str(free_port()), "--no-discovery"]
    argv += ["--database-url", stack.database_url, "--alert-rules", str(rules)]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)

    assert done.returncode != 0
    assert f"{str(rules)!r}, line 4" in done.stderr, done.stderr
    assert 'after = "an hour" is not valid; expected a duration' in done.stderr, done.stderr
    assert "listening" not in done.stderr
