from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from inlet.flow.config import Debounce
from inlet.flow.debounce import DebounceState, debounce

T0 = 1_800_000_000.0


def test_the_first_event_schedules_the_run_one_period_later() -> None:
    state = debounce(None, "e1", T0, Debounce(period=10))

    assert state == DebounceState(event_id="e1", first_at=T0, due_at=T0 + 10)


def test_a_new_event_replaces_the_stored_one_and_pushes_the_run_out() -> None:
    cfg = Debounce(period=10)
    state = debounce(None, "e1", T0, cfg)

    state = debounce(state, "e2", T0 + 7, cfg)

    assert state.event_id == "e2"
    assert state.first_at == T0
    assert state.due_at == T0 + 17


def test_the_timeout_caps_how_far_events_push_the_run() -> None:
    cfg = Debounce(period=10, timeout=25)
    state = debounce(None, "e1", T0, cfg)
    for second in (8, 16, 24):
        state = debounce(state, f"e{second}", T0 + second, cfg)

    assert state.deadline == T0 + 25
    assert state.due_at == T0 + 25
    assert state.event_id == "e24"


def test_an_event_after_the_deadline_makes_the_run_due_at_once() -> None:
    cfg = Debounce(period=10, timeout=5)
    state = debounce(None, "e1", T0, cfg)

    assert debounce(state, "e2", T0 + 6, cfg).due_at == T0 + 6


def test_an_event_older_than_the_stored_one_changes_nothing() -> None:
    cfg = Debounce(period=10)
    state = debounce(None, "new", T0, cfg, event_ts=2_000)

    assert debounce(state, "old", T0 + 3, cfg, event_ts=1_000) is state


def test_an_event_without_ts_is_never_out_of_order() -> None:
    cfg = Debounce(period=10)
    state = debounce(None, "e1", T0, cfg, event_ts=2_000)

    assert debounce(state, "e2", T0 + 1, cfg).event_id == "e2"


@settings(max_examples=300, deadline=None)
@given(
    gaps=st.lists(st.floats(min_value=0, max_value=30), min_size=1, max_size=40),
    period=st.floats(min_value=1, max_value=20),
    timeout=st.none() | st.floats(min_value=1, max_value=60),
)
def test_the_due_time_is_never_past_first_plus_timeout_nor_before_the_last_event(
    gaps: list[float], period: float, timeout: float | None
) -> None:
    cfg = Debounce(period=period, timeout=timeout)
    state: DebounceState | None = None
    now = T0
    for i, gap in enumerate(gaps):
        now += gap
        if state is not None and now >= state.due_at:
            state = None  # the run started; a later event opens a new debounce
        state = debounce(state, f"e{i}", now, cfg)

        assert state.event_id == f"e{i}"
        assert now <= state.due_at <= now + period
        if timeout is not None:
            assert state.due_at <= state.first_at + timeout
