"""Singleton: at most one active run per function per key (docs/protocol.md §9).

The store holds, per :func:`~inlet.flow.keys.singleton_key`, the id of the run that owns
the lock from the moment it is scheduled until it ends. When a new run would start, the
gate looks at that owner: ``mode: "skip"`` drops the new run while the owner is active;
``mode: "cancel"`` cancels the owner and then starts the new run (Go's
``SingletonReleaseRunID``). Events whose key evaluates to ``false`` are no singleton and
never reach this gate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from inlet.flow.config import Singleton
from inlet.flow.decision import ADMIT, Admit, Skip


@dataclass(frozen=True, slots=True)
class CancelThen:
    """Cancel the active run ``run_id``, then start the new run (which takes the lock)."""

    run_id: str


SingletonDecision: TypeAlias = Admit | Skip | CancelThen
"""What :func:`singleton` decides."""


def singleton(active_run_id: str | None, cfg: Singleton) -> SingletonDecision:
    """Decide for a new run given the lock's current owner (``None``: no active run)."""
    if active_run_id is None:
        return ADMIT
    if cfg.mode == "cancel":
        return CancelThen(active_run_id)
    return Skip(f"singleton: run {active_run_id} is still active for this key (mode skip)")
