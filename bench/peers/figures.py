"""The figures every peer reports, under the keys bench/run reads (bench/README.md)."""

from __future__ import annotations

import math
from collections.abc import Sequence

STEPS_PER_RUN = 3
SLEEP_S = 2.0
W3_SPREAD_S = 10.0
LATENCY_WARMUPS = 5

Figures = dict[str, float | int | str | None]


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank percentile `q` (0-100) of `values`."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = max(math.ceil(q / 100 * len(ordered)), 1)
    return ordered[rank - 1]


def chain(
    sends: Sequence[float], ends: Sequence[float], cpu_s: float, db_cpu_s: float | None
) -> Figures:
    """W1: runs all sent at once; `sends[i]` and `ends[i]` are run i's send and end times
    (time.time()), the CPU seconds are over the batch."""
    steps = len(ends) * STEPS_PER_RUN
    wall = max(ends) - min(sends)
    latencies = [(end - send) * 1000 for send, end in zip(sends, ends, strict=True)]
    return {
        "runs": len(ends),
        "runs_per_s": len(ends) / wall,
        "steps_per_s": steps / wall,
        "latency_p50_ms": percentile(latencies, 50),
        "latency_p99_ms": percentile(latencies, 99),
        "wall_s": wall,
        "cpu_us_per_step": cpu_s / steps * 1e6,
        "db_cpu_us_per_step": None if db_cpu_s is None else db_cpu_s / steps * 1e6,
    }


def lateness(sleep_starts: Sequence[float], step_starts: Sequence[float]) -> Figures:
    """W3: lateness = step start - (sleep start + 2 s), per run, in ms."""
    late = [
        (step - (sleep + SLEEP_S)) * 1000
        for sleep, step in zip(sleep_starts, step_starts, strict=True)
    ]
    return {
        "runs": len(late),
        "lateness_p50_ms": percentile(late, 50),
        "lateness_p99_ms": percentile(late, 99),
        "lateness_max_ms": max(late),
    }


def latency(durations_s: Sequence[float]) -> Figures:
    """latency: one run at a time, start to finish."""
    ms = [d * 1000 for d in durations_s]
    return {
        "runs": len(ms),
        "latency_p50_ms": percentile(ms, 50),
        "latency_p99_ms": percentile(ms, 99),
    }
