"""A plain run's first call is ranked as `queued` would rank it (inlet.store.engine.queue)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from inlet.model import STEP_DISCOVERY, ItemKind, NewItem, Run, RunStatus
from inlet.store.engine.queue import first_rank, rank_of
from inlet.store.engine.tx import RunRow

NOW = 1_800_000_000.0

offsets = st.floats(min_value=-3600.0, max_value=3600.0, allow_nan=False)
priorities = st.floats(min_value=-600.0, max_value=600.0, allow_nan=False)


@given(offsets, priorities)
def test_first_rank_is_the_rank_of_a_queued_run_s_first_call_less_its_priority(
    offset: float, priority: float
) -> None:
    due = NOW + offset  # due now, earlier (a rerun) or later (a delayed start)
    run = Run(id="r", function_slug="f", event_ids=(), status=RunStatus.QUEUED, created_at=NOW)
    row = RunRow(run, priority, ())
    first = NewItem(ItemKind.DISCOVERY, STEP_DISCOVERY, due)
    assert first_rank(due, priority) == rank_of(row, first, NOW) - priority
