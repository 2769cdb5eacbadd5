"""`bench/floor.py` and `bench/pg_params.py` at tiny sizes: every figure is reported and
positive, and the floor's ratios are its own figures' ratios. Not how fast anything is."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pgserver import PostgresServer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _floor(backend: str, runs: int = 30) -> dict[str, float]:
    argv = [sys.executable, str(BENCH / "floor.py"), "--backend", backend]
    argv += ["--runs", str(runs), "--repeat", "1", "--concurrency", "8", "--json"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=170)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"| {backend} |" in done.stdout
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])[backend]
    for key in ("steps_per_s", "floor_cpu_us_per_step", "app_cpu_us_per_step"):
        assert figures[key] > 0, key
    ratio = figures["floor_cpu_us_per_step"] / figures["app_cpu_us_per_step"]
    assert figures["floor_to_app"] == pytest.approx(ratio)
    # A run commits its start, its three steps and its end: alone, or with others'.
    assert 0 < figures["commits_per_step"] <= 5 / 3
    return figures


def test_the_floor_on_sqlite_reports_its_cpu_beside_the_app_s() -> None:
    assert _floor("sqlite")["db_cpu_us_per_step"] is None  # no database server to measure


def test_the_floor_on_postgresql_reports_the_database_s_cpu_too(
    pg_server: PostgresServer,  # only for its check that PostgreSQL is installed
) -> None:
    # PostgreSQL's CPU is read in clock ticks (10 ms): 30 runs cost it about two, and
    # the figure came out 0 once in CI; 300 runs cost it about fifteen.
    figures = _floor("postgres", runs=300)
    assert figures["db_cpu_us_per_step"] > 0
    assert figures["db_to_app"] > 0


def test_pg_params_prices_arrays_json_and_values_per_row(pg_server: PostgresServer) -> None:
    argv = [sys.executable, str(BENCH / "pg_params.py"), "--rows", "50", "--repeat", "1"]
    argv += ["--batch", "1,10"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=170)
    assert done.returncode == 0, done.stderr[-3000:]
    for way in ("arrays", "json", "values"):
        assert f"round 1 batch 10 {way}:" in done.stdout
    assert "medians at 1 rows a statement" in done.stdout
    assert "medians at 10 rows a statement" in done.stdout
