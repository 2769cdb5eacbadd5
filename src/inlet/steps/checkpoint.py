"""TS v4 checkpoints: steps an SDK ran inside one call request and reports to
``POST /v1/checkpoint/{run_id}/async`` before it answers that request (docs/protocol.md,
"Checkpointing").

Pure: a checkpoint's body in, what to record out, or the error that refuses it. A
checkpointed step is recorded exactly as the same ``StepRun`` in a 206 reply: a memo
``{"data": ...}`` under the SDK's hashed step id, and a history row for the waterfall.

The call request names its dispatch in ``ctx.qi_id``: the queue item and the lease of the
call in flight. The lease is the fencing token: a checkpoint of a call whose lease is gone
(the lease ran out and another call took the item, the run ended, inlet restarted) is a
stale dispatch, refused with 409 so the SDK stops instead of running on.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

import orjson

from inlet.errors import BadRequest, PayloadTooLarge
from inlet.model import JSON, Attempt, Memo
from inlet.steps import defer
from inlet.steps.ops import LAZY, STEP_DONE, Op

SEPARATOR = "/"
"""Between the item id (a ULID) and its lease in ``qi_id``; neither contains it."""


def dispatch_id(item_id: str, lease: str) -> str:
    """What ``ctx.qi_id`` carries: the queue item and the lease of this call."""
    return f"{item_id}{SEPARATOR}{lease}"


@dataclass(frozen=True, slots=True)
class Step:
    """One checkpointed step: its memo, its history row and the bytes it adds to the run.
    A defer (``DeferAdd``/``DeferAbort``, which TS v4 sends with the steps it checkpoints)
    has no history row and adds no bytes, as in a reply."""

    memo: Memo
    attempt: Attempt | None
    size: int


@dataclass(frozen=True, slots=True)
class Checkpoint:
    run_id: str
    item_id: str
    lease: str
    steps: tuple[Step, ...]


class Verdict(enum.StrEnum):
    """What the store made of a checkpoint."""

    SAVED = "saved"
    STALE = "stale"
    """The call's lease no longer holds its item, or the run has ended."""
    MISSING = "missing"
    """No such run."""
    OVER_LIMIT = "over_limit"
    """The run would pass its state size or step count."""


@dataclass(frozen=True, slots=True)
class StateLimits:
    max_state_bytes: int
    max_steps: int


def parse(
    run_id: str, body: dict[str, Any], *, now: float, max_step_output_bytes: int
) -> Checkpoint:
    """The checkpoint in ``body``, for the run in the path. Raises ``BadRequest`` for a
    body that is not a checkpoint and ``PayloadTooLarge`` for a step over the size limit."""
    named = body.get("run_id")
    if named is not None and named != run_id:
        raise BadRequest(
            f"run_id={named!r} in the body is not the run in the path ({run_id!r}); "
            "a checkpoint belongs to the run whose call request it came from"
        )
    qi_id = body.get("qi_id")
    if not isinstance(qi_id, str) or SEPARATOR not in qi_id:
        raise BadRequest(
            f"qi_id={qi_id!r} is not a dispatch this server made; send the ctx.qi_id of "
            "the call request the steps ran in"
        )
    item_id, lease = qi_id.split(SEPARATOR, 1)
    raw_steps = body.get("steps")
    if not isinstance(raw_steps, list) or not all(isinstance(s, dict) for s in raw_steps):
        raise BadRequest(
            f"steps must be an array of opcode objects, not {_excerpt(raw_steps)}; "
            "each is a StepRun the SDK ran in this call"
        )
    steps = tuple(_step(run_id, item_id, op, now, max_step_output_bytes) for op in raw_steps)
    return Checkpoint(run_id=run_id, item_id=item_id, lease=lease, steps=steps)


def step_of(run_id: str, item_id: str, op: dict[str, Any], now: float, limit: int) -> Step:
    """One reported ``StepRun`` (or defer) as it is recorded; ``BadRequest`` for another
    opcode, ``PayloadTooLarge`` for an output over ``limit`` bytes."""
    return _step(run_id, item_id, op, now, limit)


def _step(run_id: str, item_id: str, op: dict[str, Any], now: float, limit: int) -> Step:
    kind = str(op.get("op", ""))
    step_id = op.get("id")
    name = str(op.get("displayName") or op.get("name") or step_id)
    if kind in LAZY:
        try:
            return Step(memo=defer.record(op), attempt=None, size=0)
        except defer.DeferRejected as exc:
            raise BadRequest(f"{exc}; send the opcode as the SDK makes it") from None
    if kind not in STEP_DONE:
        raise BadRequest(
            f"opcode {kind!r} (step {name!r}) cannot be checkpointed: only {Op.STEP_RUN} "
            f"(a step that ran and returned), {Op.DEFER_ADD} and {Op.DEFER_ABORT} can; "
            "answer it in the call's 206 reply"
        )
    if not isinstance(step_id, str) or not step_id:
        raise BadRequest(f"step {name!r} has no id (op {_excerpt(op)}); expected its hashed id")
    data: JSON = op.get("data")
    value: JSON = {"data": data}
    size = len(orjson.dumps(value))
    if size > limit:
        raise PayloadTooLarge(
            f"step {name!r} returned {size} bytes, over the fixed limit of {limit} bytes "
            "per step (as in Inngest); store large data elsewhere and return a reference"
        )
    started, ended = _timing(op.get("timing"), now)
    attempt = Attempt(
        run_id=run_id,
        item_id=item_id,
        step_id=step_id,
        attempt=0,
        started_at=started,
        ended_at=ended,
        outcome="step",
        status_code=200,
        name=name,
        output=data,
        op_step=step_id,
    )
    return Step(memo=Memo(step_id, value, name, kind), attempt=attempt, size=size)


def _timing(raw: object, now: float) -> tuple[float, float]:
    """The step's own start and end (epoch ms) when the SDK sent them, else ``now``."""
    if isinstance(raw, dict):
        start, end = raw.get("start"), raw.get("end")
        if isinstance(start, int | float) and isinstance(end, int | float) and 0 < start <= end:
            return start / 1000, end / 1000
    return now, now


def _excerpt(value: object) -> str:
    text = orjson.dumps(value, default=str).decode()
    return text if len(text) <= 80 else text[:80] + "..."
