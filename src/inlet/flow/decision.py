"""What a flow-control gate decides about one run (STYLE habit 2).

Gates are pure functions that return one of these values; the store and the executor act
on them. ``Admit`` starts now, ``Delay(until)`` starts at ``until`` (epoch seconds) and is
never dropped, ``Skip(reason)`` creates no run at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias


@dataclass(frozen=True, slots=True)
class Admit:
    """Go ahead now."""


@dataclass(frozen=True, slots=True)
class Delay:
    """Go ahead at ``until`` (epoch seconds); the slot is already reserved."""

    until: float


@dataclass(frozen=True, slots=True)
class Skip:
    """Do not create the run; ``reason`` says which gate refused and why."""

    reason: str


ADMIT = Admit()
"""The one ``Admit`` value gates return."""

Decision: TypeAlias = Admit | Delay | Skip
"""Any gate's answer."""
