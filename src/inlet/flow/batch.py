"""Event batching: one run per ``max_size`` events or per ``timeout`` (docs/protocol.md §9).

Per :func:`~inlet.flow.keys.batch_key` the store keeps one open buffer. The first event
opens it and fixes its due time at ``first + timeout``; the event that brings it to
``max_size`` (or past :data:`MAX_BATCH_BYTES`) closes it and the run starts at once;
otherwise the run starts at the due time with whatever was buffered. The run's ``event``
is the first buffered event and ``events`` all of them, in arrival order. An event id
already in the buffer is ignored (Go's per-event ``SET NX`` in ``append.lua``).

Events for which :func:`batch_applies` is false skip batching and run alone, at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from inlet.expr import compile_expression
from inlet.flow.config import Batch, FlowConfig

MAX_BATCH_BYTES = 10 * 1024 * 1024
"""A buffer this large starts its run even below ``max_size`` (Go's 10 MiB default)."""


@dataclass(frozen=True, slots=True)
class BatchState:
    """An open batch buffer: its events in arrival order, when it opened, when it is due
    and the payload bytes buffered so far."""

    event_ids: tuple[str, ...]
    opened_at: float
    due_at: float
    size_bytes: int = 0


def add_to_batch(
    buffer: BatchState | None,
    event_id: str,
    now: float,
    cfg: Batch,
    *,
    event_bytes: int = 0,
) -> tuple[BatchState, bool]:
    """The buffer after ``event_id`` arrives at ``now``, and whether to start its run now.

    ``flush_now`` is true exactly when the buffer reaches ``cfg.max_size`` events (or
    :data:`MAX_BATCH_BYTES`); the caller then starts the run with the returned buffer
    and opens the next event's buffer from ``None``. Otherwise the run is due at
    ``due_at``. A duplicate ``event_id`` returns the buffer unchanged and ``False``.
    """
    if buffer is None:
        buffer = BatchState(event_ids=(), opened_at=now, due_at=now + cfg.timeout)
    elif event_id in buffer.event_ids:
        return buffer, False
    grown = replace(
        buffer,
        event_ids=(*buffer.event_ids, event_id),
        size_bytes=buffer.size_bytes + event_bytes,
    )
    full = len(grown.event_ids) >= cfg.max_size or grown.size_bytes >= MAX_BATCH_BYTES
    return grown, full


def batch_applies(cfg: FlowConfig, event: Mapping[str, Any]) -> bool:
    """Whether ``event`` goes into a batch: batching is configured and its ``if`` (when
    set) evaluates to exactly ``true``. False or a failed evaluation means the event
    runs alone, immediately (Go's ``runner.go``)."""
    if cfg.batch is None:
        return False
    if cfg.batch.condition is None:
        return True
    return compile_expression(cfg.batch.condition).matches({"event": event})
