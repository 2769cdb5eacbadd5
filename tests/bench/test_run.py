"""`bench/run` end to end on SQLite: W1 (50 runs x 3 steps through the official Python
SDK app, and the app driven alone) and the unloaded latency workload (50 runs), one
repeat, JSON output. Sizes are tiny, so the test checks that every run completed and every
figure is a positive number, not how fast anything is."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

RUN = Path(__file__).resolve().parents[2] / "bench" / "run"


def test_bench_run_w1_and_latency_reports_every_figure() -> None:
    argv = [str(RUN), "--only", "W1,latency", "--runs", "50", "--repeat", "1", "--json"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=170)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    w1, latency = summary["median"]["W1"], summary["median"]["latency"]
    assert w1["completed"] == 50
    for key in ("runs_per_s", "steps_per_s", "latency_p50_ms", "latency_p99_ms"):
        assert w1[key] > 0, key
    for key in ("cpu_us_per_step", "app_cpu_us_per_step", "app_alone_steps_per_s"):
        assert w1[key] > 0, key
    assert w1["db_cpu_us_per_step"] is None  # SQLite: no database server to measure
    assert latency["runs"] == 50
    assert 0 < latency["latency_p50_ms"] <= latency["latency_p99_ms"]
    assert "| W1 | steps/s |" in done.stdout
    assert "| latency | 3-step run p50, ms |" in done.stdout


def test_bench_run_refuses_an_unknown_workload_naming_the_choices() -> None:
    done = subprocess.run([str(RUN), "--only", "W9"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "'W9' is not a workload" in done.stderr
    assert "W1,W1-TS,latency,W2,W3,W4" in done.stderr
