from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from inlet.flow.batch import MAX_BATCH_BYTES, BatchState, add_to_batch, batch_applies
from inlet.flow.config import Batch, FlowConfig

T0 = 1_800_000_000.0


def event(**data: Any) -> dict[str, Any]:
    return {"name": "app/e", "data": data, "id": "e1", "ts": 1, "user": {}}


def test_the_first_event_opens_a_buffer_due_one_timeout_later() -> None:
    state, flush = add_to_batch(None, "e1", T0, Batch(max_size=3, timeout=5))

    assert state == BatchState(event_ids=("e1",), opened_at=T0, due_at=T0 + 5)
    assert not flush


def test_the_event_that_fills_the_buffer_flushes_it_at_once() -> None:
    cfg = Batch(max_size=2, timeout=5)
    state, _ = add_to_batch(None, "e1", T0, cfg)

    state, flush = add_to_batch(state, "e2", T0 + 1, cfg)

    assert flush
    assert state.event_ids == ("e1", "e2")
    assert state.due_at == T0 + 5


def test_a_duplicate_event_id_is_ignored() -> None:
    cfg = Batch(max_size=2, timeout=5)
    state, _ = add_to_batch(None, "e1", T0, cfg)

    assert add_to_batch(state, "e1", T0 + 1, cfg) == (state, False)


def test_a_buffer_past_the_byte_cap_flushes_below_max_size() -> None:
    cfg = Batch(max_size=100, timeout=5)
    state, _ = add_to_batch(None, "e1", T0, cfg, event_bytes=MAX_BATCH_BYTES - 10)

    state, flush = add_to_batch(state, "e2", T0, cfg, event_bytes=10)

    assert flush
    assert state.size_bytes == MAX_BATCH_BYTES


def test_every_event_is_batched_when_there_is_no_condition() -> None:
    cfg = FlowConfig.parse({"batchEvents": {"maxSize": 2, "timeout": "1s"}})

    assert batch_applies(cfg, event())


def test_an_event_failing_the_condition_runs_alone() -> None:
    cfg = FlowConfig.parse(
        {"batchEvents": {"maxSize": 2, "timeout": "1s", "if": "event.data.n > 1"}}
    )

    assert batch_applies(cfg, event(n=2))
    assert not batch_applies(cfg, event(n=1))
    assert not batch_applies(cfg, event())  # no value
    assert not batch_applies(cfg, event(n="x"))


def test_nothing_is_batched_without_batching_configured() -> None:
    assert not batch_applies(FlowConfig(), event())


@settings(max_examples=300, deadline=None)
@given(
    ids=st.lists(st.integers(min_value=0, max_value=30), max_size=80),
    max_size=st.integers(min_value=2, max_value=10),
)
def test_a_batch_flushes_exactly_when_it_reaches_max_size(ids: list[int], max_size: int) -> None:
    cfg = Batch(max_size=max_size, timeout=5)
    state: BatchState | None = None
    for n, i in enumerate(ids):
        before = () if state is None else state.event_ids
        state, flush = add_to_batch(state, f"e{i}", T0 + n, cfg)
        if f"e{i}" in before:
            assert state.event_ids == before and not flush
        else:
            assert state.event_ids == (*before, f"e{i}")
            assert flush == (len(state.event_ids) == max_size)
        assert len(state.event_ids) <= max_size
        assert state.due_at == state.opened_at + 5
        if flush:
            state = None
