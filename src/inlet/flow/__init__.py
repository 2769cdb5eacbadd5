"""Flow control: pure gates deciding when, whether and with which keys a run may start.

Every module here is pure (STYLE habit 1): no I/O, no clock reads; the current time is a
``now: float`` (epoch seconds) parameter and per-key state (a throttle's TAT, a pending
debounce, a batch buffer) goes in and comes back out as values the store persists.
Gates answer with :mod:`inlet.flow.decision` values (``Admit | Delay | Skip``).

Semantics follow the Inngest Go server (docs/protocol.md §9); each module names the behaviour it
reproduces and where it deliberately differs.
"""

from __future__ import annotations

from inlet.flow.config import (
    Batch,
    ConcurrencyLimit,
    Debounce,
    FlowConfig,
    Priority,
    RateLimit,
    Singleton,
    Throttle,
)
from inlet.flow.decision import ADMIT, Admit, Decision, Delay, Skip

__all__ = [
    "ADMIT",
    "Admit",
    "Batch",
    "ConcurrencyLimit",
    "Debounce",
    "Decision",
    "Delay",
    "FlowConfig",
    "Priority",
    "RateLimit",
    "Singleton",
    "Skip",
    "Throttle",
]
