from __future__ import annotations

from typing import Any

import pytest

from inlet.flow.config import FlowConfig
from inlet.flow.priority import PRIORITY_MAX, evaluate_priority, priority_offset


def event(**data: Any) -> dict[str, Any]:
    return {"name": "app/e", "data": data, "id": "e1", "ts": 1, "user": {}}


PRIO = FlowConfig.parse({"priority": {"run": "event.data.prio"}})


def test_a_whole_number_of_seconds_moves_the_run_ahead() -> None:
    assert priority_offset(PRIO, event(prio=120)) == 120.0
    assert priority_offset(PRIO, event(prio=-30)) == -30.0


def test_a_conditional_expression_gives_its_branch() -> None:
    cfg = FlowConfig.parse({"priority": {"run": "event.data.plan == 'paid' ? 100 : 0"}})

    assert priority_offset(cfg, event(plan="paid")) == 100.0
    assert priority_offset(cfg, event(plan="free")) == 0.0


@pytest.mark.parametrize(("prio", "offset"), [(10**6, 43_200.0), (-(10**6), -43_200.0)])
def test_the_offset_is_clamped_to_twelve_hours_either_way(prio: int, offset: float) -> None:
    assert priority_offset(PRIO, event(prio=prio)) == offset
    assert offset in (PRIORITY_MAX, -PRIORITY_MAX)


@pytest.mark.parametrize("prio", ["high", 1.5, True, [1]])
def test_a_non_integer_result_gives_zero_with_the_reason(prio: Any) -> None:
    result = evaluate_priority(PRIO, event(prio=prio))

    assert result.offset == 0.0
    assert result.error is not None and "not a whole number" in result.error


def test_a_missing_field_gives_zero_with_the_reason() -> None:
    result = evaluate_priority(PRIO, event())

    assert result.offset == 0.0
    assert result.error is not None and "returned no value" in result.error


def test_a_whole_float_counts_as_an_integer() -> None:
    assert priority_offset(PRIO, event(prio=60.0)) == 60.0


def test_no_priority_configured_is_offset_zero_without_error() -> None:
    assert evaluate_priority(FlowConfig(), event(prio=5)).error is None
    assert priority_offset(FlowConfig(), event(prio=5)) == 0.0
