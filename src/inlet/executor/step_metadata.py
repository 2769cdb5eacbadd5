"""Metadata that TS v4 sends inside step opcodes: ``inngest.metadata.set()`` (or
``update()``) called inside ``step.run``, and the SDK's own ``inngest.ai`` values, ride on
the step's opcode as ``metadata: [{kind, scope, op, values}]`` instead of a request to
``POST /v1/runs/{id}/metadata``. They are kept through the same store verb
(``Store.update_metadata``), against the step (or the run, for ``scope: "run"``)."""

from __future__ import annotations

import logging
from typing import Any

import orjson

from inlet.steps.reply import Reply, trusted_ops
from inlet.store.metadata import OPS, RUN, MetadataUpdate

MAX_BYTES = 64 * 1024
"""Serialized values of one update, as ``POST /v1/runs/{id}/metadata`` allows."""

log = logging.getLogger("inlet.executor")


def updates_in(reply: Reply, keys: tuple[str, ...]) -> list[MetadataUpdate]:
    """The metadata updates the opcodes of a trusted 206 reply carry, in order. A malformed
    one is logged and left out: the step it rides on is still recorded."""
    return updates_of(trusted_ops(reply, keys))


def updates_of(ops: list[dict[str, Any]]) -> list[MetadataUpdate]:
    """The metadata updates ``ops`` carry, in order (a reply's, or a checkpoint's steps)."""
    updates = []
    for op in ops:
        items = op.get("metadata")
        if not isinstance(items, list):
            continue
        step_id = str(op.get("id") or "")
        for item in items:
            update = _update(item, step_id)
            if update is None:
                log.warning(
                    "executor.step_metadata_ignored",
                    extra={"step_id": step_id, "update": orjson.dumps(item).decode()[:200]},
                )
            else:
                updates.append(update)
    return updates


def _update(item: Any, step_id: str) -> MetadataUpdate | None:
    if not isinstance(item, dict):
        return None
    kind, op, values = item.get("kind"), item.get("op"), item.get("values")
    if not isinstance(kind, str) or not kind or op not in OPS or not isinstance(values, dict):
        return None
    if len(orjson.dumps(values)) > MAX_BYTES:
        return None
    target = RUN if item.get("scope") == "run" or not step_id else step_id
    return MetadataUpdate(kind, "set" if op == "set" else "merge", values, target)
