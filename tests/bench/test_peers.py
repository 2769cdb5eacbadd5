"""`bench/peers/run` end to end: DBOS on SQLite and Celery with Redis, W1 at 30 runs, JSON
output. Sizes are tiny, so the tests check that every run completed and every figure is a
positive number, not how fast anything is.

The peers live in their own venv, which the test builds with `bench/peers/setup` (pinned
versions from the package index and Debian's redis-server; about 30 s the first time on
the 2-core machine, nothing once built). When it cannot be built the tests are skipped
locally, but fail under CI=true, so CI cannot pass without having run them.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]

PEERS = Path(__file__).resolve().parents[2] / "bench" / "peers"


@pytest.fixture(scope="module")
def peers_venv() -> None:
    try:
        done = subprocess.run([str(PEERS / "setup")], capture_output=True, text=True, timeout=300)
        error = None if done.returncode == 0 else f"exit {done.returncode}: {done.stderr[-2000:]}"
    except subprocess.TimeoutExpired:
        error = "timed out after 300 s"
    if error is not None:
        message = f"bench/peers/setup could not build the peers' venv: {error}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


def run_peer(*args: str) -> dict[str, object]:
    argv = [str(PEERS / "run"), *args, "--json"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    figures: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def positive(figures: dict[str, object], key: str) -> float:
    value = figures[key]
    assert isinstance(value, int | float), (key, value)
    assert value > 0, (key, value)
    return float(value)


@pytest.mark.usefixtures("peers_venv")
def test_dbos_on_sqlite_runs_w1_and_reports_every_figure() -> None:
    figures = run_peer("--peer", "dbos-sqlite", "--workload", "w1", "--runs", "30")
    assert figures["peer"] == "dbos-sqlite"
    assert figures["runs"] == 30
    for key in ("runs_per_s", "steps_per_s", "wall_s", "cpu_us_per_step"):
        positive(figures, key)
    assert positive(figures, "latency_p50_ms") <= positive(figures, "latency_p99_ms")
    assert figures["db_cpu_us_per_step"] is None  # SQLite: no database server to measure
    assert positive(figures, "steps_per_s") == pytest.approx(3 * positive(figures, "runs_per_s"))


@pytest.mark.usefixtures("peers_venv")
def test_celery_with_redis_runs_w1_and_measures_redis_cpu() -> None:
    figures = run_peer("--peer", "celery", "--workload", "w1", "--runs", "30")
    assert figures["runs"] == 30
    for key in ("runs_per_s", "steps_per_s", "latency_p50_ms", "cpu_us_per_step"):
        positive(figures, key)
    positive(figures, "db_cpu_us_per_step")  # Redis' own process


def test_bad_options_are_refused_naming_the_value_and_the_fix() -> None:
    # The options are checked before any peer is imported: the checkout's Python will do.
    argv = [sys.executable, str(PEERS / "peers.py"), "--peer", "celery", "--workload", "w1"]
    done = subprocess.run([*argv, "--runs", "0"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "--runs 0 is out of range: give 1 to 100000" in done.stderr
    done = subprocess.run(
        [*argv, "--pg-url", "postgresql://x/y"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "--pg-url is for --peer dbos-postgres only, not celery" in done.stderr


def peer_figures() -> ModuleType:
    sys.path.insert(0, str(PEERS))
    try:
        return importlib.import_module("figures")  # stdlib only: no peers' venv needed
    finally:
        sys.path.remove(str(PEERS))


def test_w1_figures_count_three_steps_per_run_over_first_start_to_last_end() -> None:
    figures = peer_figures()
    # Four runs started at 100.0-100.3 s, ended at 101.0-102.0 s: a 2 s wall.
    out = figures.chain([100.0, 100.1, 100.2, 100.3], [101.0, 101.5, 101.6, 102.0], 0.024, None)
    assert out["wall_s"] == pytest.approx(2.0)
    assert out["runs_per_s"] == pytest.approx(2.0)
    assert out["steps_per_s"] == pytest.approx(6.0)
    assert out["cpu_us_per_step"] == pytest.approx(2000.0)  # 24 ms over 12 steps
    assert out["latency_p50_ms"] == pytest.approx(1400.0)  # nearest rank: 2nd of 4
    assert out["latency_p99_ms"] == pytest.approx(1700.0)
    assert out["db_cpu_us_per_step"] is None


def test_w3_lateness_is_step_start_minus_sleep_start_plus_two_seconds() -> None:
    out = peer_figures().lateness([10.0, 20.0], [12.004, 22.030])
    assert out["lateness_p50_ms"] == pytest.approx(4.0)
    assert out["lateness_p99_ms"] == pytest.approx(30.0)
