"""Run priority: how many seconds a run's queue items jump ahead (docs/protocol.md §9).

``priority.run`` evaluates against the trigger event to an integer number of seconds;
the run's queue items are ordered as if enqueued that much earlier (negative: later).
As in Go's ``Function.RunPriorityFactor``, a result that is not an integer (including a
missing field, which Go evaluates to ``false``) gives 0, and the result is clamped to
±12 hours (``consts.PriorityFactorMin/Max``; Inngest's docs speak of -600..600, but
the server accepts the wider range).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from inlet.flow.config import FlowConfig
from inlet.flow.keys import evaluate

PRIORITY_MAX = 12 * 3600
"""The largest priority factor in seconds; :data:`PRIORITY_MIN` is its negative."""
PRIORITY_MIN = -PRIORITY_MAX


@dataclass(frozen=True, slots=True)
class PriorityResult:
    """The offset in seconds (positive: sooner) and, when it fell back to 0, why."""

    offset: float
    error: str | None = None


def evaluate_priority(cfg: FlowConfig, event: Mapping[str, Any]) -> PriorityResult:
    """The clamped priority offset of a run triggered by ``event``, with the reason when
    the expression gave no integer."""
    if cfg.priority is None:
        return PriorityResult(0.0)
    value = evaluate(cfg.priority.run, event)
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # JSON whole numbers may arrive as floats
    if not isinstance(value, int) or isinstance(value, bool):
        shown = "no value" if value is None else repr(value)
        return PriorityResult(
            0.0,
            f"priority.run {cfg.priority.run!r} returned {shown}, not a whole number of "
            "seconds; using 0",
        )
    return PriorityResult(float(min(max(value, PRIORITY_MIN), PRIORITY_MAX)))


def priority_offset(cfg: FlowConfig, event: Mapping[str, Any]) -> float:
    """Seconds the run's queue items move ahead (positive: sooner); 0 without priority
    or when the expression gives no integer (see :func:`evaluate_priority`)."""
    return evaluate_priority(cfg, event).offset
