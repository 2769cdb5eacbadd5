"""W5's claim latency figures: the 95% interval of a p50 from order statistics, and the
report row that says whether the samples resolve the 20% target or leave it to noise."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def bench_module(name: str) -> ModuleType:
    sys.path.insert(0, str(BENCH))
    try:
        return importlib.import_module(name)  # stdlib only: no servers start on import
    finally:
        sys.path.remove(str(BENCH))


def test_the_median_interval_of_100_values_spans_the_40th_to_the_61st() -> None:
    stats = bench_module("stats")
    assert stats.median_ranks(100) == (40, 61)
    assert stats.median_ranks(20) == (6, 15)
    assert stats.median_interval([float(v) for v in range(100, 0, -1)]) == (40.0, 61.0)


def test_a_sample_too_small_for_the_confidence_has_no_median_interval() -> None:
    stats = bench_module("stats")
    assert stats.median_ranks(5) is None  # 2 x (1/2)^5 > 5%: even min-max is not enough
    assert stats.median_interval([]) is None


def test_the_interval_holds_the_true_median_about_95_times_in_100() -> None:
    import random

    stats = bench_module("stats")
    rng = random.Random(16)
    # Exponential latencies, median ln 2: skewed like claim latencies.
    hits = sum(
        lo <= 0.6931 <= hi
        for lo, hi in (
            stats.median_interval([rng.expovariate(1.0) for _ in range(100)]) for _ in range(2000)
        )
    )
    assert 0.93 <= hits / 2000 <= 0.98


def w5_row(p50s: dict[int, tuple[float, float, float]]) -> dict[str, float]:
    row: dict[str, float] = {}
    for level, (low, p50, high) in p50s.items():
        row |= {
            f"claim_p50_ms_at_{level}": p50,
            f"claim_p50_low_ms_at_{level}": low,
            f"claim_p50_high_ms_at_{level}": high,
            f"claim_p90_ms_at_{level}": p50 * 2,
            f"claim_p99_ms_at_{level}": p50 * 3,
            f"rss_mb_at_{level}": 80.0,
        }
    return row


def test_a_24_percent_rise_inside_overlapping_intervals_is_reported_as_not_resolved() -> None:
    report = bench_module("report")
    lines = report.backlog_rows(w5_row({1000: (2.0, 2.5, 3.0), 100000: (2.6, 3.1, 3.6)}))
    assert (
        "| W5 | claim latency p50 (95% interval) at 1,000 queued, ms | 2.50 (2.00-3.00) | |"
        in lines
    )
    ratio = lines[-1]
    assert ratio.startswith("| W5 | claim p50 at 100,000 / at 1,000 | 1.24 (0.87-1.80) |")
    assert ratio.endswith("<= 1.2 MISSED (within the intervals: not resolved) |")


@pytest.mark.parametrize(
    ("last", "verdict"),
    [((2.45, 2.5, 2.55), "<= 1.2 met |"), ((3.4, 3.5, 3.6), "<= 1.2 MISSED |")],
)
def test_narrow_intervals_resolve_the_target_either_way(
    last: tuple[float, float, float], verdict: str
) -> None:
    report = bench_module("report")
    lines = report.backlog_rows(w5_row({1000: (2.45, 2.5, 2.55), 100000: last}))
    assert lines[-1].endswith(verdict)
