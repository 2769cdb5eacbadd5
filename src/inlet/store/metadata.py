"""Run metadata: what an SDK attaches to a run or one of its steps beside its output (TS v4
``inngest.metadata.set()``, scores and experiments of both SDKs), sent to
``POST /v1/runs/{id}/metadata`` as updates of ``{kind, op, values}``.

A run holds one object of values per (step, kind); ``step_id`` is ``""`` for the run
itself. ``op`` ``"set"`` replaces that object, ``"merge"`` adds its keys to it (a key sent
again takes the new value). The rule is pure (:func:`apply`); the stores keep the result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from inlet.model import JSON
from inlet.store.model_prices import with_estimated_cost

Op = Literal["set", "merge"]

OPS: Final[tuple[Op, ...]] = ("set", "merge")
RUN: Final = ""
"""The ``step_id`` of metadata attached to the run itself."""


@dataclass(frozen=True, slots=True)
class MetadataUpdate:
    kind: str
    op: Op
    values: Mapping[str, JSON]
    step_id: str = RUN


@dataclass(frozen=True, slots=True)
class RunMetadata:
    """One (step, kind) of a run's metadata, as the updates so far left it."""

    run_id: str
    step_id: str
    kind: str
    values: Mapping[str, JSON]
    updated_at: float


def apply(current: Mapping[str, JSON] | None, update: MetadataUpdate) -> dict[str, JSON]:
    """The values after ``update``: replaced by a set, extended by a merge. ``inngest.ai``
    values get an ``estimated_cost`` if they name a priced model (``model_prices``)."""
    if update.op == "set" or current is None:
        values = dict(update.values)
    else:
        values = {**current, **update.values}
    with_estimated_cost(update.kind, values, update.values)
    return values


def fold(
    run_id: str,
    current: Mapping[tuple[str, str], RunMetadata],
    updates: Sequence[MetadataUpdate],
    now: float,
) -> dict[tuple[str, str], RunMetadata]:
    """The rows ``updates`` change, applied in order, keyed by (step, kind)."""
    changed: dict[tuple[str, str], RunMetadata] = {}
    for update in updates:
        key = (update.step_id, update.kind)
        before = changed.get(key) or current.get(key)
        values = apply(before.values if before else None, update)
        changed[key] = RunMetadata(run_id, update.step_id, update.kind, values, now)
    return changed


MetadataRows = dict[str, dict[tuple[str, str], RunMetadata]]
"""The memory store's ``run_metadata`` table: per run, per (step, kind)."""
