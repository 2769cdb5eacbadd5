"""GCRA for throttle (excess delayed) and rate limit (excess skipped).

The Generic Cell Rate Algorithm keeps one number per key, the theoretical arrival time
(TAT). With emission interval ``T = period / limit`` and tolerance ``burst * T``, a start
at time ``t`` conforms when ``t >= max(TAT, t) - burst * T``; conforming moves the TAT to
``max(TAT, t) + T``. These are the Go server's Lua scripts' formulas (``rateLimit`` /
``throttle`` in ``pkg/constraintapi/lua/helper/gcra.lua`` and
``pkg/execution/ratelimit/lua/ratelimit.lua``: ``dvt = emission * (burst + 1)``,
``allow_at = new_tat - dvt``, admitted when ``now - allow_at >= 0``).

What that guarantees, for conforming times in non-decreasing order: any half-open window
``[x, x + period)`` holds at most ``limit + burst`` of them, and up to ``burst + 1`` may
share one instant. It is a smoothing limiter: after a burst the sustained rate is one
start every ``T`` seconds, so ``limit: 3, period: 1m`` admits one event every 20 s rather
than three at the top of each minute.

``burst`` is the throttle's own setting (default 0); a rate limit gets ``limit // 10``
as in Go (see :attr:`RateLimit.burst`).
"""

from __future__ import annotations

import math
from fractions import Fraction

from inlet.flow.config import RateLimit, Throttle
from inlet.flow.decision import ADMIT, Decision, Delay, Skip
from inlet.protocol.duration import format_duration


def _gcra(tat: float | None, now: float, emission: float, burst: int) -> tuple[float, float]:
    """``(allow_at, new_tat)``: the earliest conforming time (may be before ``now``) and
    the TAT once a start at ``max(now, allow_at)`` is counted."""
    base = now if tat is None or tat < now else tat
    return base - burst * emission, base + emission


def throttle(tat: float | None, now: float, cfg: Throttle) -> tuple[Decision, float]:
    """Throttle one run start arriving at ``now`` for a key whose TAT is ``tat``.

    Returns ``(Admit, new_tat)`` when the start conforms, otherwise
    ``(Delay(until), new_tat)`` with ``until`` the earliest conforming time: the slot is
    reserved, so the run starts at ``until`` without asking again, and later arrivals
    queue behind it (first in, first out). Nothing is ever dropped. ``tat`` is ``None``
    for a key never seen (or whose state expired, which is equivalent once ``tat < now``).
    """
    allow_at, new_tat = _gcra(tat, now, cfg.emission, cfg.burst)
    new_tat = _not_early(new_tat, now if tat is None or tat < now else tat, cfg)
    if allow_at <= now:
        return ADMIT, new_tat
    return Delay(allow_at), new_tat


def _not_early(tat: float, base: float, cfg: Throttle) -> float:
    """``tat`` moved up to the first float at or after ``base + period / limit`` exactly.

    Epoch seconds are large floats (a unit in the last place is ~0.24 us), so adding the
    emission interval rounds, sometimes down; over a queue of delayed starts the rounding
    adds up and one start too many lands inside a period. Rounding up instead keeps every
    start on or after its exact slot (late by at most microseconds, never early).
    """
    exact = Fraction(base) + Fraction(cfg.period) / cfg.limit
    while Fraction(tat) < exact:
        tat = math.nextafter(tat, math.inf)
    return tat


def rate_limit(tat: float | None, now: float, cfg: RateLimit) -> tuple[Decision, float | None]:
    """Rate-limit one event arriving at ``now`` for a key whose TAT is ``tat``.

    Returns ``(Admit, new_tat)`` when it conforms, otherwise ``(Skip(reason), tat)``:
    a skipped event leaves the state exactly as it was.
    """
    allow_at, new_tat = _gcra(tat, now, cfg.emission, cfg.burst)
    if allow_at <= now:
        return ADMIT, new_tat
    return (
        Skip(
            f"rate limited: at most {cfg.limit} run{'' if cfg.limit == 1 else 's'} per "
            f"{format_duration(cfg.period)} (one every {format_duration(cfg.emission)}, "
            f"burst {cfg.burst}); the next event would be admitted in "
            f"{format_duration(math.ceil(allow_at - now))}"
        ),
        tat,
    )
