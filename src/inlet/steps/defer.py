"""Deferred runs: ``DeferAdd`` and ``DeferAbort`` (docs/protocol.md §6.4). Pure.

A function calls ``defer(id, {function, data})`` to have another function (one made with
``createDefer``, triggered by ``inngest/deferred.schedule`` where
``event.data._inngest.fn_slug`` names it) run once this run has ended. The SDK reports the
defer as a ``DeferAdd`` opcode riding along with the reply's other opcodes; the server
records it and, when the run ends, sends one ``inngest/deferred.schedule`` event per defer
that was not aborted. A ``DeferAbort`` (``handle.abort()``) names the defer it cancels in
``opts.target_hashed_id``.

Both are recorded as memos of their own op under the step id the SDK sent (the hashed
defer id), so a defer reported twice is recorded once (a step id has one memo). They are
not step results: the call request leaves them out of ``steps`` and tells the SDK of them
in the top-level ``defers`` map instead, ``{hashed_id: {abortable}}``, which is how the SDK
knows not to report them again on replay.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from inlet.ids import derived_ulid
from inlet.model import JSON, Event, Memo, RunState, StoredMemo
from inlet.steps.ops import Op

SCHEDULE = "inngest/deferred.schedule"
"""The event that starts a deferred function."""
MAX_INPUT_BYTES = 4 * 1024 * 1024
"""A defer's input over this is refused without failing the run, as Inngest does."""
ADDED = "after_run"
"""The status of a defer that starts when the run ends."""
REJECTED = "rejected"
"""The status of a defer whose input was too large: it never starts."""


class DeferRejected(Exception):
    """The opcode is malformed; the run fails with this message."""


def memo_of(op: dict[str, Any], state: RunState, pending: Iterable[Memo]) -> Memo | None:
    """The memo that records ``op`` (a ``DeferAdd`` or ``DeferAbort``), or ``None`` if
    the run already holds one under that step id (the SDK reported it again)."""
    memo = record(op)
    known = {m.step_id for m in state.memos} | {m.step_id for m in pending}
    return None if memo.step_id in known else memo


def record(op: dict[str, Any]) -> Memo:
    """The memo that records ``op`` (a ``DeferAdd`` or ``DeferAbort``), whether it came in
    a reply or in a checkpoint. Raises ``DeferRejected`` for a malformed opcode."""
    step_id = str(op.get("id") or "")
    name = str(op.get("displayName") or op.get("name") or step_id)
    kind = str(op.get("op"))
    opts = op.get("opts")
    if not step_id:
        raise DeferRejected(f"{kind} {name!r} has no step id")
    if not isinstance(opts, dict):
        raise DeferRejected(f"{kind} {name!r} has no opts object (got {opts!r})")
    if kind == Op.DEFER_ABORT:
        target = opts.get("target_hashed_id")
        if not isinstance(target, str) or not target:
            raise DeferRejected(
                f"DeferAbort {name!r} names no defer to abort: opts.target_hashed_id must be "
                f"the hashed id of the DeferAdd (got {target!r})"
            )
        return Memo(step_id, {"target_hashed_id": target}, name, Op.DEFER_ABORT)
    slug = opts.get("fn_slug")
    if not isinstance(slug, str) or not slug:
        raise DeferRejected(
            f"DeferAdd {name!r} names no function: opts.fn_slug must be the deferred "
            f"function's slug (got {slug!r})"
        )
    value: dict[str, JSON] = {"fn_slug": slug, "status": ADDED, "input": opts.get("input")}
    if len(orjson.dumps(value)) > MAX_INPUT_BYTES:
        value = {"fn_slug": slug, "status": REJECTED, "input": None}
    if isinstance(opts.get("meta"), dict):
        value["meta"] = opts["meta"]
    return Memo(step_id, value, name, Op.DEFER_ADD)


def prior(memos: Sequence[StoredMemo]) -> dict[str, JSON]:
    """The call request's ``defers`` map: every defer the run recorded, abortable while it
    is still to start."""
    aborted = _aborted(memos)
    return {
        m.step_id: {"abortable": m.step_id not in aborted and _status(m.value) == ADDED}
        for m in memos
        if m.op == Op.DEFER_ADD
    }


def scheduled(state: RunState, new: Sequence[Memo], now: float) -> list[Event]:
    """The ``inngest/deferred.schedule`` events of a run that ends now: one per defer it
    recorded (``new`` are the memos of the ending call) and did not abort. Each event's id
    is derived from the run and the defer, so an ending applied twice starts nothing twice."""
    memos: list[StoredMemo | Memo] = [*state.memos, *new]
    aborted = _aborted(memos)
    run = state.run
    events = []
    for memo in memos:
        value = memo.value
        if memo.op != Op.DEFER_ADD or memo.step_id in aborted or not isinstance(value, dict):
            continue
        if value.get("status") != ADDED:
            continue
        raw = value.get("input")
        data: dict[str, JSON] = dict(raw) if isinstance(raw, dict) else {}
        data["_inngest"] = {
            "fn_slug": value.get("fn_slug"),
            "parent_fn_slug": run.function_slug,
            "parent_run_id": run.id,
        }
        meta = value.get("meta")
        internal_id = derived_ulid(run.created_at, f"defer:{run.id}:{memo.step_id}")
        events.append(
            Event(
                internal_id=internal_id,
                name=SCHEDULE,
                data=data,
                id=internal_id,
                ts=int(now * 1000),
                received_at=now,
                meta=meta if isinstance(meta, dict) else None,
            )
        )
    return events


def _aborted(memos: Iterable[StoredMemo | Memo]) -> set[str]:
    targets: set[str] = set()
    for m in memos:
        if m.op == Op.DEFER_ABORT and isinstance(m.value, dict):
            target = m.value.get("target_hashed_id")
            if isinstance(target, str):
                targets.add(target)
    return targets


def _status(value: JSON) -> JSON:
    return value.get("status") if isinstance(value, dict) else None
