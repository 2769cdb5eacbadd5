"""The executor's state machine: one app reply in, the commands it implies out.

Pure: no I/O, no clock (``now`` and ``jitter`` are arguments). The rules are those of
docs/protocol.md §5 and §7: 200 finishes the run, 206 carries opcodes, other answers are
function-level errors retried by the table unless the SDK says not to.
"""

from __future__ import annotations

import email.utils
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import orjson

from inlet.model import (
    JSON,
    STEP_DISCOVERY,
    Attempt,
    Finish,
    Function,
    ItemKind,
    Memo,
    NewItem,
    Outcome,
    QueueItem,
    RunState,
    RunStatus,
)
from inlet.steps import defer, waits
from inlet.steps.backoff import RetryPolicy, clamp_retry_after
from inlet.steps.finish import standard_error
from inlet.steps.ops import GATEWAYS, LAZY, STEP_DONE, STEP_RAISED, WAITING, Op
from inlet.steps.reply import (
    Reply,
    decode_output,
    excerpt,
    ops_of,
    signature_problem,
    try_json,
    unwrap_stream,
)

__all__ = ["Call", "Limits", "Reply", "interpret"]


@dataclass(frozen=True, slots=True)
class Limits:
    max_step_output_bytes: int
    max_state_bytes: int
    max_steps: int


@dataclass(frozen=True, slots=True)
class Call:
    """Everything the machine may look at about the call that was made."""

    item: QueueItem
    state: RunState
    function: Function
    started_at: float
    exists: Callable[[str], bool] = lambda slug: False
    """Whether a function is registered (the target of an invoke)."""
    response_keys: tuple[str, ...] = ()
    """The keys an SDK signs its reply with (``inlet start``); empty: not checked (dev)."""
    gateway: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    """The opcode each ``Gateway``/``AIGateway`` step of the reply stands for, its HTTP
    call made (``steps/gateway.py``), by step id."""


def interpret(
    call: Call, reply: Reply, *, now: float, jitter: float, retry: RetryPolicy, limits: Limits
) -> Outcome:
    """Turn an app's reply into the commands that record it. A run that ends starts the
    deferred runs it recorded (``steps/defer.py``)."""
    outcome = _interpret(call, reply, now=now, jitter=jitter, retry=retry, limits=limits)
    if outcome.finish is None or outcome.finish.status not in (
        RunStatus.COMPLETED,
        RunStatus.FAILED,
    ):
        return outcome
    started = defer.scheduled(call.state, outcome.memos, now)
    return replace(outcome, events=(*outcome.events, *started)) if started else outcome


def _interpret(
    call: Call, reply: Reply, *, now: float, jitter: float, retry: RetryPolicy, limits: Limits
) -> Outcome:
    unsigned = signature_problem(reply, call.response_keys)
    reply = unwrap_stream(reply)
    attempt = Attempt(
        run_id=call.item.run_id,
        item_id=call.item.id,
        step_id=call.item.step_id,
        attempt=call.item.attempt,
        started_at=call.started_at,
        ended_at=now,
        outcome="",
        status_code=reply.status,
        name=call.item.name,
        due_at=call.item.due_at,
    )
    if reply.error is not None:
        return _failed_call(call, attempt, reply, reply.error, now, jitter, retry)
    if reply.sdk is None:
        reason = (
            f"response did not come from an Inngest SDK (HTTP {reply.status} without an "
            f"X-Inngest-SDK header): is {call.function.url.split('?')[0]} the app's serve "
            f"endpoint? Body: {excerpt(reply.body)}"
        )
        return _failed_call(call, attempt, reply, reason, now, jitter, retry)
    if unsigned is not None:
        # Nothing an unverified reply says is trusted, its retry headers included: it is
        # retried as if no answer had come.
        return _failed_call(
            call, attempt, Reply(status=reply.status, error=unsigned), unsigned, now, jitter, retry
        )
    version = _request_version(call, reply)
    if reply.status == 200:
        try:
            output = decode_output(reply.body)
        except orjson.JSONDecodeError:
            reason = f"the SDK answered 200 with a body that is not JSON: {excerpt(reply.body)}"
            return _failed_call(call, attempt, reply, reason, now, jitter, retry)
        return Outcome(
            attempt=replace(attempt, outcome="completed", output=output),
            finish=Finish(RunStatus.COMPLETED, output=output),
            request_version=version,
        )
    if reply.status == 206:
        try:
            ops = ops_of(reply)
        except (orjson.JSONDecodeError, ValueError) as exc:
            reason = f"the SDK answered 206 with opcodes that cannot be read ({exc})"
            return _failed_call(call, attempt, reply, reason, now, jitter, retry)
        outcome = _opcodes(call, attempt, reply, ops, now, jitter, retry, limits, version)
        # A step's or a run's end carries the version already (no copy of the outcome on
        # the common path); the rarer answers get it here.
        if outcome.request_version == version:
            return outcome
        return replace(outcome, request_version=version)
    body = try_json(reply.body)
    reason = _error_text(body, reply)
    outcome = _failed_call(call, attempt, reply, reason, now, jitter, retry, error_body=body)
    return replace(outcome, request_version=version)


def _opcodes(
    call: Call,
    attempt: Attempt,
    reply: Reply,
    ops: list[dict[str, Any]],
    now: float,
    jitter: float,
    retry: RetryPolicy,
    limits: Limits,
    request_version: int | None,
) -> Outcome:
    if not ops:
        return Outcome(attempt=replace(attempt, outcome="noop"))
    memos: list[Memo] = []
    enqueue: list[NewItem] = []
    state_bytes = 0
    planned = 0
    discover = False
    finish: Finish | None = None
    retry_at: float | None = None
    errors: list[str] = []
    outputs: list[JSON] = []
    effects = waits.Effects()
    grouped = sum(1 for o in ops if o.get("op") not in LAZY) > 1
    for op in ops:
        kind = str(op.get("op", ""))
        step_id = str(op.get("id", ""))
        name = str(op.get("displayName") or op.get("name") or step_id)
        if kind in GATEWAYS:
            # The server made the call: the step is what came of it (steps/gateway.py).
            op = call.gateway.get(step_id) or {
                **op,
                "op": Op.STEP_ERROR,
                "error": {"name": "GatewayError", "message": "the HTTP call was not made"},
            }
            kind = str(op["op"])
        if kind in STEP_DONE:
            value = {"data": op.get("data")}
            size = len(orjson.dumps(value))
            too_big = _over_limits(call, name, size, state_bytes, memos, limits)
            if too_big is not None:
                return _fail(attempt, too_big, "failed")
            memos.append(Memo(step_id, value, name, kind))
            state_bytes += size
            outputs.append(op.get("data"))
            discover = True
        elif kind in STEP_RAISED:
            error = _step_error(op.get("error"))
            errors.append(f"{name}: {error['name']}: {error['message']}")
            final = (
                kind == Op.STEP_FAILED
                or reply.no_retry
                or call.item.attempt + 1 >= call.function.max_attempts
            )
            if not final:
                retry_at = now + retry.delay(call.item.attempt, jitter)
                continue
            value = {"error": error}
            size = len(orjson.dumps(value))
            memos.append(Memo(step_id, value, name, Op.STEP_FAILED))
            state_bytes += size
            discover = True
        elif kind == Op.STEP_PLANNED:
            opts = op.get("opts") or {}
            race = isinstance(opts, dict) and opts.get("parallelMode") == "race"
            enqueue.append(NewItem(ItemKind.STEP, step_id, now, join=not race, name=name))
            planned += 1
        elif kind in WAITING:
            try:
                if kind == Op.SLEEP:
                    waits.sleep(op, now, effects, in_group=grouped)
                elif kind == Op.WAIT_FOR_EVENT:
                    waits.wait_for_event(op, call.state, now, effects)
                else:
                    target = (op.get("opts") or {}).get("function_id")
                    exists = isinstance(target, str) and call.exists(target)
                    waits.invoke(op, call.state, now, exists, effects)
            except waits.OpRejected as exc:
                return _fail(attempt, str(exc), "failed")
        elif kind == Op.RUN_COMPLETE:
            data = op.get("data")
            finish = Finish(RunStatus.COMPLETED, output=data)
            outputs.append(data)
        elif kind == Op.DISCOVERY_REQUEST:
            discover = True
        elif kind in LAZY:
            try:
                memo = defer.memo_of(op, call.state, memos)
            except defer.DeferRejected as exc:
                return _fail(attempt, str(exc), "failed")
            if memo is not None:
                memos.append(memo)
            # Alone in a reply (the SDKs send them along with another opcode), they still
            # need a discovery to move the run on.
            discover = discover or all(o.get("op") in LAZY for o in ops)
        elif kind == Op.STEP_NOT_FOUND:
            errors.append(f"step {step_id} not found by the SDK")
            retry_at = now + retry.delay(call.item.attempt, jitter)
        else:
            reason = f"opcode {kind!r} (step {name!r}) is not supported by this version of Inlet"
            return _fail(attempt, reason, "failed")
    if finish is not None:
        return Outcome(
            attempt=replace(attempt, outcome="completed", output=finish.output),
            memos=tuple(memos),
            finish=finish,
            state_bytes=state_bytes,
            request_version=request_version,
        )
    memos.extend(effects.memos)
    enqueue.extend(effects.enqueue)
    discover = discover or effects.discover
    # Defers ride along with a step: they neither make a reply parallel nor stop a retry.
    steps = [o for o in ops if o.get("op") not in LAZY] or ops
    stepped = [m for m in memos if m.op not in LAZY]
    if retry_at is not None and not stepped and not enqueue and not effects.listeners:
        return Outcome(
            attempt=replace(
                attempt,
                outcome="retry",
                error="; ".join(errors),
                name=attempt.name or str(steps[0].get("displayName") or ""),
                op_step=_single_step(steps),
            ),
            memos=tuple(memos),
            retry_at=retry_at,
        )
    if discover:
        # A targeted step of a parallel group joins: only the last branch to finish
        # asks for the discovery that moves the function on.
        join = call.item.kind is ItemKind.STEP and call.item.join
        enqueue.append(NewItem(ItemKind.DISCOVERY, STEP_DISCOVERY, now, after_join=join))
    force_plan = True if len(steps) > 1 else None
    if planned and call.item.kind is ItemKind.DISCOVERY and len(steps) == 1:
        force_plan = None
    version = call.state.run.request_version
    if version == -1:
        version = _request_version(call, reply) or -1
    if discover and call.item.kind is ItemKind.STEP and version >= 2 and force_plan is None:
        # Request version 2 returns to inline execution once a parallel group is done
        # (Go resets ForceStepPlan at the join); version 1 SDKs keep planning every step.
        # A sleep that joins the group last plans once more (steps/timers.py).
        force_plan = False
    label = "planned" if planned and not stepped else ("step" if not errors else "step_failed")
    if not stepped and not planned and (effects.listeners or effects.enqueue):
        label = "waiting"
    names = ", ".join(str(op.get("displayName") or op.get("name") or op.get("id")) for op in steps)
    return Outcome(
        attempt=replace(
            attempt,
            outcome=label,
            output=outputs[0] if len(outputs) == 1 else None,
            name=attempt.name or names,
            op_step=_single_step(steps),
            error="; ".join(errors) or None,
        ),
        memos=tuple(memos),
        enqueue=tuple(enqueue),
        retry_at=retry_at,
        force_plan=force_plan,
        state_bytes=state_bytes,
        events=tuple(effects.events),
        listeners=tuple(effects.listeners),
        request_version=request_version,
    )


def _single_step(ops: list[dict[str, Any]]) -> str:
    return str(ops[0].get("id") or "") if len(ops) == 1 else ""


def _over_limits(
    call: Call, name: str, size: int, pending_bytes: int, memos: list[Memo], limits: Limits
) -> str | None:
    if size > limits.max_step_output_bytes:
        return (
            f"step {name!r} returned {size} bytes, over the fixed limit of "
            f"{limits.max_step_output_bytes} bytes per step (as in Inngest); store large "
            "data elsewhere and return a reference"
        )
    total = call.state.run.state_size + pending_bytes + size
    if total > limits.max_state_bytes:
        return (
            f"run state would reach {total} bytes after step {name!r}, over the fixed limit "
            f"of {limits.max_state_bytes} bytes per run (as in Inngest); return smaller "
            "step results, or split the work across runs with step.invoke"
        )
    if call.state.run.step_count + len(memos) + 1 > limits.max_steps:
        return (
            f"the run has more than {limits.max_steps} steps, the fixed limit per run (as in "
            "Inngest); split the work across runs with step.invoke or by sending events"
        )
    return None


def _failed_call(
    call: Call,
    attempt: Attempt,
    reply: Reply,
    reason: str,
    now: float,
    jitter: float,
    retry: RetryPolicy,
    error_body: JSON = None,
) -> Outcome:
    """A call that did not produce a usable answer: retry it, or fail the run."""
    retriable = reply.error is not None or reply.sdk is None or not reply.no_retry
    if retriable and call.item.attempt + 1 < call.function.max_attempts:
        at = now + retry.delay(call.item.attempt, jitter)
        after = reply.headers.get("retry-after")
        if after and reply.sdk is not None:
            parsed = _retry_after(after, now)
            if parsed is not None:
                at = clamp_retry_after(parsed, now)
        return Outcome(attempt=replace(attempt, outcome="retry", error=reason), retry_at=at)
    outcome = _fail(attempt, reason, "failed", error_body)
    if outcome.finish is not None and outcome.finish.error is not None and reply.status >= 300:
        # Go's StandardError for a failed call: what inngest/function.failed carries (the
        # SDKs' own test suites compare it).
        error = {**outcome.finish.error, "error": f"invalid status code: {reply.status}"}
        outcome = replace(outcome, finish=replace(outcome.finish, error=error))
    return outcome


def _fail(attempt: Attempt, reason: str, label: str, error_body: JSON = None) -> Outcome:
    error = (
        _sdk_error(error_body)
        if isinstance(error_body, dict)
        else standard_error("Error", reason, error=reason)
    )
    output = error_body if error_body is not None else error
    return Outcome(
        attempt=replace(attempt, outcome=label, error=reason),
        finish=Finish(RunStatus.FAILED, output=output, error=error),
    )


def _sdk_error(body: Mapping[str, Any]) -> dict[str, JSON]:
    """Inngest's ``StandardError`` from an SDK's error body (docs/protocol.md §5.6): the SDKs
    differ in which of ``message`` and ``error`` they fill, and some send no stack."""
    name = str(body.get("name") or "Error")
    message = body.get("message")
    if message is None:
        message = body.get("error", "Unknown error")
    message = message if isinstance(message, str) else orjson.dumps(message).decode()
    stack = body.get("stack")
    return standard_error(name, message, stack if isinstance(stack, str) else "")


def _step_error(raw: JSON) -> dict[str, JSON]:
    """A memo error must have string ``name`` and ``message``, or Python takes the memo
    for data (docs/protocol.md §5.4); keep the SDK's other fields as they came."""
    error = dict(raw) if isinstance(raw, dict) else {"message": str(raw)}
    error["name"] = str(error.get("name") or "Error")
    message = error.get("message")
    error["message"] = message if isinstance(message, str) else str(message or "")
    return error


def _error_text(body: JSON, reply: Reply) -> str:
    if isinstance(body, dict):
        err = _sdk_error(body)
        return f"HTTP {reply.status}: {err['name']}: {err['message']}"
    return f"HTTP {reply.status}: {excerpt(reply.body)}"


def _request_version(call: Call, reply: Reply) -> int | None:
    if call.state.run.request_version != -1:
        return None
    raw = reply.headers.get("x-inngest-req-version")
    try:
        version = int(raw) if raw is not None else None
    except ValueError:
        return None
    return version if version and version > 0 else None


def _retry_after(value: str, now: float) -> float | None:
    value = value.strip()
    if len(value) <= 7 and value.isdigit() and int(value) > 0:
        return now + int(value)
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        pass
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
