"""Retention in the store: what one batch of ``Store.purge`` deleted (the verb over the
memory store's rows is ``memory_retention.MemoryRetention``; in SQL ``sql/retention.py``).

What goes, in one transaction per batch: up to ``limit`` runs that ended before the
cutoff, with their attempts (the history), memos and links to events; then the events
nobody needs any more. An event stays while a run refers to it, while a run waiting for
its name could still be matched with it (a listener is younger than its run, so only
events that arrived after the oldest such run are kept), and while a call in flight may
yet ask to wait for it (the engine looks back to the call's start, which is after its
run's creation). Runs in flight are never touched, whatever their age.
"""

from __future__ import annotations

from dataclasses import dataclass

FINISHED = frozenset({"COMPLETED", "FAILED", "CANCELLED"})


@dataclass(frozen=True, slots=True)
class PurgeResult:
    """What one batch deleted."""

    runs: int = 0
    attempts: int = 0
    memos: int = 0
    events: int = 0
    keys: int = 0

    def __add__(self, other: PurgeResult) -> PurgeResult:
        return PurgeResult(
            self.runs + other.runs,
            self.attempts + other.attempts,
            self.memos + other.memos,
            self.events + other.events,
            self.keys + other.keys,
        )
