"""`bench/ingest_floor.py` at a tiny size: the floor server answers every request with an
id per event (the script fails otherwise), and each figure is reported. Not how fast
anything is."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "ingest_floor.py"


def test_the_ingest_floor_reports_events_per_second_and_the_cpu_per_event() -> None:
    argv = [sys.executable, str(SCRIPT), "--batches", "4", "--repeat", "1", "--json"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=110)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "repeat 1:" in done.stdout and "median of 1:" in done.stdout
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    for key in ("events_per_s", "server_cpu_us_per_event", "client_cpu_us_per_event"):
        assert figures[key] >= 0, key
    assert figures["events_per_s"] > 0
    [repeat] = figures["repeats"]
    assert repeat["events_per_s"] == figures["events_per_s"]
