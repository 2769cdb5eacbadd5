"""``POST /v1/runs/{run_id}/metadata``: what the SDKs send to attach metadata to a run or a
step (TS v4 ``inngest.metadata``, scores and experiments of both SDKs), read and checked
here, kept by the store (``inlet.store.metadata``) and shown with the run.

The body, as both SDKs send it::

    {"target": {"run_id": "...", "step_id": "..."},
     "metadata": [{"kind": "inngest.score", "op": "merge", "values": {...}}]}

Other target fields the TS SDK sends (``step_index``, ``step_attempt``, ``span_id``) are
accepted and not kept: Inlet keeps metadata per run and step.
"""

from __future__ import annotations

from typing import Any, Final

import orjson

from inlet.api.render import iso
from inlet.errors import BadRequest
from inlet.store.metadata import OPS, RUN, MetadataUpdate, RunMetadata

MAX_UPDATES: Final = 100
"""Updates in one request."""
MAX_BYTES: Final = 64 * 1024
"""Serialized values of one update: metadata is for small facts, not payloads."""
MAX_KIND: Final = 256
EXAMPLE: Final = (
    '{"target": {"run_id": "<run id>"}, "metadata": [{"kind": "userland.default", '
    '"op": "merge", "values": {"status": "done"}}]}'
)


def _show(value: object) -> str:
    return orjson.dumps(value).decode()[:80]


def parse_updates(body: dict[str, Any], run_id: str) -> list[MetadataUpdate]:
    """The updates of a request for ``run_id``, or ``BadRequest`` naming the first bad
    field and what was expected."""
    target = body.get("target", {})
    if not isinstance(target, dict):
        raise BadRequest(f'target must be an object such as {{"run_id": ...}}, not {_show(target)}')
    named = target.get("run_id")
    if named is not None and named != run_id:
        raise BadRequest(
            f"target.run_id {_show(named)} is not the run of the path ({run_id!r}); send "
            "the update to /v1/runs/<target.run_id>/metadata"
        )
    step_id = target.get("step_id")
    if step_id is not None and (not isinstance(step_id, str) or not step_id):
        raise BadRequest(f"target.step_id must be a non-empty string, not {_show(step_id)}")
    items = body.get("metadata")
    if not isinstance(items, list) or not items:
        raise BadRequest(f"metadata must be a non-empty list of updates, e.g. {EXAMPLE}")
    if len(items) > MAX_UPDATES:
        raise BadRequest(
            f"metadata has {len(items)} updates; the limit is {MAX_UPDATES} per request"
        )
    return [_update(item, f"metadata[{i}]", step_id or RUN) for i, item in enumerate(items)]


def _update(item: object, where: str, step_id: str) -> MetadataUpdate:
    if not isinstance(item, dict):
        raise BadRequest(f"{where} must be an object {{kind, op, values}}, not {_show(item)}")
    kind = item.get("kind")
    if not isinstance(kind, str) or not kind or len(kind) > MAX_KIND:
        raise BadRequest(
            f"{where}.kind must be a string of 1 to {MAX_KIND} characters such as "
            f'"userland.default", not {_show(kind)}'
        )
    op = item.get("op")
    if op not in OPS:
        raise BadRequest(f"{where}.op must be one of {', '.join(OPS)}, not {_show(op)}")
    values = item.get("values")
    if not isinstance(values, dict):
        raise BadRequest(f"{where}.values must be an object, not {_show(values)}")
    size = len(orjson.dumps(values))
    if size > MAX_BYTES:
        raise BadRequest(
            f"{where}.values is {size} bytes; the limit is {MAX_BYTES}: keep large data in "
            "step outputs and attach a reference"
        )
    return MetadataUpdate(kind, "set" if op == "set" else "merge", values, step_id)


def metadata_v1(rows: list[RunMetadata]) -> list[dict[str, Any]]:
    return [
        {
            "step_id": row.step_id or None,
            "kind": row.kind,
            "values": dict(row.values),
            "updated_at": iso(row.updated_at),
        }
        for row in rows
    ]
