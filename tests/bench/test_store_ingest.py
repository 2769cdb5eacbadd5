"""`bench/store_ingest.py` at a tiny size: it stores W4's routed batches in an SQLite store
and prints a figure for each repeat, their medians and, asked, each statement's share.
Not how fast anything is."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(60)

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "store_ingest.py"


def test_store_ingest_prints_each_repeat_the_medians_and_the_statements() -> None:
    argv = [sys.executable, str(SCRIPT), "--batches", "4", "--together", "2", "--repeat", "2"]
    done = subprocess.run([*argv, "--statements"], capture_output=True, text=True, timeout=50)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert [line.split(":")[0] for line in lines[:3]] == ["repeat 1", "repeat 2", "median of 2"]
    for line in lines[:3]:
        found = re.search(r"(\d+\.\d) us CPU, (\d+\.\d) us wall an event", line)
        assert found is not None, line
        assert float(found[1]) > 0 and float(found[2]) > 0, line
    spent = dict(re.findall(r"(\d+\.\d\d) us an event  (.+)", "\n".join(lines[3:])))
    named = set(spent.values())
    assert {"insert_events", "reserve_keys", "COMMIT", "INSERT INTO runs"} <= named, lines
