"""Order statistics for the benchmarks' small samples: how far a median can be trusted.

A p50 of a few dozen latencies moves by more than the 20% a target may ask to resolve, so
the figures that are compared across levels carry a distribution-free interval of their
median: the ranks j < k of the sorted sample such that the true median lies between the
j-th and the k-th value with the given confidence (the binomial(n, 1/2) count of values
below the median decides it; no assumption on the shape of the distribution).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from math import comb
from typing import Any


def median_ranks(n: int, confidence: float = 0.95) -> tuple[int, int] | None:
    """1-based ranks (j, k) with P(x_(j) <= median <= x_(k)) >= confidence, as narrow and
    as symmetric as the sample allows; None when n is too small for that confidence."""
    if n < 1:
        return None
    # P(B < j) for B ~ Binomial(n, 1/2), accumulated until it would exceed the tail.
    tail = (1 - confidence) / 2
    below = 0.0
    j = 0
    while j < n and below + comb(n, j) / 2**n <= tail:
        below += comb(n, j) / 2**n
        j += 1
    if j == 0:
        return None
    return j, n + 1 - j


def median_interval(values: list[float], confidence: float = 0.95) -> tuple[float, float] | None:
    """The interval of the median of `values` (see :func:`median_ranks`), or None."""
    ranks = median_ranks(len(values), confidence)
    if ranks is None:
        return None
    ordered = sorted(values)
    return ordered[ranks[0] - 1], ordered[ranks[1] - 1]


def field_medians(results: Sequence[Any], names: Iterable[str]) -> dict[str, float | None]:
    """The median over the repeats' results of each named numeric attribute, leaving out
    the results where it is None (None when every one is)."""
    out: dict[str, float | None] = {}
    for name in names:
        values = [v for r in results if (v := getattr(r, name)) is not None]
        out[name] = statistics.median(values) if values else None
    return out
