from __future__ import annotations

from bisect import bisect_left

from hypothesis import given, settings
from hypothesis import strategies as st

from inlet.flow.config import RateLimit, Throttle
from inlet.flow.decision import ADMIT, Admit, Decision, Delay, Skip
from inlet.flow.gcra import rate_limit, throttle

T0 = 1_800_000_000.0
EPS = 1e-6


def start_of(decision: Decision, now: float) -> float:
    assert isinstance(decision, Admit | Delay), decision
    return decision.until if isinstance(decision, Delay) else now


def max_in_window(times: list[float], period: float) -> int:
    """The most times in any half-open window [x, x + period) (x ranges over the times)."""
    ordered = sorted(times)
    return max(
        (bisect_left(ordered, t + period - EPS) - i for i, t in enumerate(ordered)), default=0
    )


def test_a_first_start_is_admitted_and_sets_the_tat_one_emission_ahead() -> None:
    decision, tat = throttle(None, T0, Throttle(limit=2, period=10))

    assert decision == ADMIT
    assert tat == T0 + 5


def test_a_throttled_start_is_delayed_to_the_next_slot_not_dropped() -> None:
    cfg = Throttle(limit=1, period=5)
    _, tat = throttle(None, T0, cfg)

    decision, tat = throttle(tat, T0 + 1, cfg)

    assert decision == Delay(T0 + 5)
    assert tat == T0 + 10


def test_delayed_starts_queue_behind_each_other_in_arrival_order() -> None:
    cfg = Throttle(limit=1, period=5)
    tat: float | None = None
    starts = []
    for _ in range(4):
        decision, tat = throttle(tat, T0, cfg)
        starts.append(start_of(decision, T0))

    assert starts == [T0, T0 + 5, T0 + 10, T0 + 15]


def test_burst_lets_extra_starts_through_at_once() -> None:
    cfg = Throttle(limit=1, period=5, burst=2)
    tat: float | None = None
    decisions = []
    for _ in range(4):
        decision, tat = throttle(tat, T0, cfg)
        decisions.append(decision)

    assert decisions == [ADMIT, ADMIT, ADMIT, Delay(T0 + 5)]


def test_a_key_idle_for_a_whole_period_starts_fresh() -> None:
    cfg = Throttle(limit=1, period=5)
    _, tat = throttle(None, T0, cfg)

    assert throttle(tat, T0 + 60, cfg) == (ADMIT, T0 + 65)


def test_a_rate_limited_event_is_skipped_with_a_reason_and_the_state_is_kept() -> None:
    cfg = RateLimit(limit=1, period=3600)
    _, tat = rate_limit(None, T0, cfg)

    decision, kept = rate_limit(tat, T0 + 60, cfg)

    assert isinstance(decision, Skip)
    assert decision.reason.startswith("rate limited: at most 1 run per 1h")
    assert "admitted in 59m" in decision.reason
    assert kept == tat


def test_a_rate_limit_smooths_rather_than_allowing_the_whole_limit_at_once() -> None:
    cfg = RateLimit(limit=3, period=60)
    tat: float | None = None
    admitted = []
    for second in (0, 1, 2, 20, 21, 40):
        decision, tat = rate_limit(tat, T0 + second, cfg)
        admitted.append(decision == ADMIT)

    assert admitted == [True, False, False, True, False, True]


def test_a_rate_limit_of_ten_or_more_allows_a_tenth_as_burst() -> None:
    cfg = RateLimit(limit=10, period=60)
    tat: float | None = None
    admitted = 0
    for _ in range(5):
        decision, tat = rate_limit(tat, T0, cfg)
        admitted += decision == ADMIT

    assert admitted == 2


def test_the_first_event_for_a_key_is_never_rate_limited() -> None:
    assert rate_limit(None, T0, RateLimit(limit=1, period=86_400))[0] == ADMIT


arrivals = st.lists(st.integers(min_value=0, max_value=120_000), min_size=1, max_size=60).map(
    lambda ms: [T0 + m / 1000 for m in sorted(ms)]
)


@settings(max_examples=300, deadline=None)
@given(
    times=arrivals,
    limit=st.integers(min_value=1, max_value=12),
    period=st.sampled_from([1.0, 5.0, 10.0, 60.0, 7.5]),
    burst=st.integers(min_value=0, max_value=5),
)
def test_throttle_never_starts_more_than_limit_plus_burst_in_any_period_and_drops_nothing(
    times: list[float], limit: int, period: float, burst: int
) -> None:
    cfg = Throttle(limit=limit, period=period, burst=burst)
    tat: float | None = None
    starts = []
    for now in times:
        decision, tat = throttle(tat, now, cfg)
        start = start_of(decision, now)
        assert start >= now
        starts.append(start)

    assert len(starts) == len(times)
    assert starts == sorted(starts)  # first in, first out
    assert max_in_window(starts, period) <= limit + burst


@settings(max_examples=300, deadline=None)
@given(
    times=arrivals,
    limit=st.integers(min_value=1, max_value=30),
    period=st.sampled_from([1.0, 5.0, 10.0, 60.0, 7.5]),
)
def test_rate_limit_admits_at_most_limit_plus_its_burst_in_any_period(
    times: list[float], limit: int, period: float
) -> None:
    cfg = RateLimit(limit=limit, period=period)
    tat: float | None = None
    admitted = []
    for now in times:
        before = tat
        decision, tat = rate_limit(tat, now, cfg)
        if decision == ADMIT:
            admitted.append(now)
        else:
            assert tat == before

    assert max_in_window(admitted, period) <= limit + cfg.burst


@settings(max_examples=200, deadline=None)
@given(
    gaps=st.lists(st.floats(min_value=0, max_value=100), min_size=1, max_size=30),
    limit=st.integers(min_value=1, max_value=30),
    period=st.sampled_from([1.0, 5.0, 60.0]),
)
def test_rate_limit_admits_every_event_spaced_at_least_one_emission_apart(
    gaps: list[float], limit: int, period: float
) -> None:
    cfg = RateLimit(limit=limit, period=period)
    tat: float | None = None
    now = T0
    for gap in gaps:
        now += cfg.emission + gap
        decision, tat = rate_limit(tat, now, cfg)
        assert decision == ADMIT


def test_a_long_throttle_queue_does_not_drift_into_one_start_too_many() -> None:
    # Found by the property above: at epoch-sized times, 0.1 s added ten times fell short
    # of 1 s, and a 13th start landed inside the first period (limit 10 + burst 2).
    cfg = Throttle(limit=10, period=1.0, burst=2)
    tat: float | None = None
    starts = []
    for _ in range(13):
        decision, tat = throttle(tat, T0, cfg)
        starts.append(start_of(decision, T0))
    assert max_in_window(starts, cfg.period) == 12
    assert T0 + 1.0 <= starts[-1] < T0 + 1.0 + 1e-5  # on or just after its slot, never before
