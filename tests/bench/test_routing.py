"""`bench/routing.py` at a tiny size: it routes W4's events and prints a figure for each
repeat and their medians. Not how fast anything is."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(60)

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "routing.py"


def test_routing_prints_the_cpu_of_each_repeat_and_the_medians() -> None:
    argv = [sys.executable, str(SCRIPT), "--batches", "3", "--repeat", "2"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=50)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == ["repeat 1", "repeat 2", "median of 2"]
    figure = r"plan_and_skips (\d+\.\d) us/event, new_ulid (\d+\.\d\d) us/id"
    for line in lines:
        found = re.search(figure, line)
        assert found is not None, line
        assert float(found[1]) > 0 and float(found[2]) > 0, line
