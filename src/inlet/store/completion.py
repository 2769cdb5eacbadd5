"""A call's outcome as a job of the SQL stores' thread (``Store.complete_call``).

On a backend that pipelines, a batch of completions sends every consume statement it can
before the first job runs (``writer.send_ahead``), so one round trip answers all of them
where each job waited for its own.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from inlet.metrics import Tally
from inlet.model import Outcome
from inlet.store.base import CallEnd, Claim, Completed
from inlet.store.engine import apply
from inlet.store.engine.tx import Tx
from inlet.store.writer import Ahead


@dataclass(frozen=True, slots=True, eq=False)
class Completion(Ahead):
    """``apply.complete_call`` on the store thread's transaction; ``tx`` makes the port."""

    tx: Callable[[], Tx]
    leases: Iterator[int]
    claim: Claim
    outcome: Outcome
    now: float
    key_ttl: float
    end: CallEnd

    def __call__(self, sent: apply.Consumed | None = None) -> tuple[Completed, Tally]:
        tx = self.tx()
        done = apply.complete_call(
            tx, self.claim, self.outcome, self.now, self.key_ttl, self.end, self.leases, sent
        )
        return done, tx.tally

    def contained(self) -> bool:
        return apply.changes_its_run_only(self.outcome)

    def ahead(self) -> Callable[[], tuple[Completed, Tally]]:
        sent = apply.consume_early(self.tx(), self.claim, self.outcome, self.end, self.now)
        return functools.partial(self, sent)
