"""Domain values shared by every layer. Frozen dataclasses; no I/O, no validation."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

JSON = Any
"""A value that came from or goes to JSON."""

STEP_DISCOVERY = "step"
"""The ``stepId`` of a call that runs the function from the top (discovery)."""


class RunStatus(enum.StrEnum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def ended(self) -> bool:
        return self in (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED)

    @property
    def v1_name(self) -> str:
        """The spelling of Inngest's REST API v1 (``Running``, ``Completed``...)."""
        return self.value.capitalize()


@dataclass(frozen=True, slots=True)
class Event:
    """An accepted event. ``internal_id`` is its ULID; ``id`` is the dedupe key."""

    internal_id: str
    name: str
    data: dict[str, JSON]
    id: str
    ts: int
    v: str | None = None
    user: dict[str, JSON] = field(default_factory=dict)
    received_at: float = 0.0
    meta: dict[str, JSON] | None = None
    """What the SDK attached beside the payload (TS v4 and Python 0.5.20 sessions):
    stored, and echoed back in call requests, with its session layers folded into one
    (``folded_meta``)."""

    def to_wire(self) -> dict[str, JSON]:
        """The event as the SDKs receive it in a call request."""
        wire: dict[str, JSON] = {
            "name": self.name,
            "data": self.data,
            "id": self.id,
            "ts": self.ts,
            "user": self.user,
        }
        if self.v is not None:
            wire["v"] = self.v
        if self.meta is not None:
            wire["meta"] = folded_meta(self.meta)
        return wire


def folded_meta(meta: dict[str, JSON]) -> dict[str, JSON]:
    """``meta`` with its two session layers folded as Inngest does when it accepts an
    event: ``sessions`` (the sender's own, a JSON merge patch, RFC 7386) applied over
    ``propagated_sessions`` (stamped by the SDK from the run that sent the event). A
    ``null`` session cuts the inherited one of its key, ``"sessions": null`` cuts them all;
    the function then reads the result from ``meta.sessions`` (``ctx.sessions``)."""
    manual, inherited = meta.get("sessions"), meta.get("propagated_sessions", {})
    cuts = manual is None or (isinstance(manual, dict) and None in manual.values())
    if "propagated_sessions" not in meta and not ("sessions" in meta and cuts):
        return meta
    if not isinstance(inherited, dict) or not isinstance(manual, dict | None):
        return meta  # not layers an SDK writes: kept as sent
    merged: dict[str, JSON] = dict(inherited)
    if "sessions" in meta and manual is None:
        merged = {}
    elif manual is not None:
        for key, value in manual.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
    folded = {k: v for k, v in meta.items() if k not in ("sessions", "propagated_sessions")}
    if merged:
        folded["sessions"] = merged
    return folded


@dataclass(frozen=True, slots=True)
class Trigger:
    event: str | None = None
    expression: str | None = None
    cron: str | None = None
    jitter: str | None = None


@dataclass(frozen=True, slots=True)
class App:
    url: str
    app_id: str
    sdk: str = ""
    framework: str = ""
    checksum: str = ""
    synced_at: float = 0.0
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Function:
    """A function as registered by an app. ``slug`` is the composite id (``app-fn``)."""

    slug: str
    app_url: str
    name: str
    url: str
    triggers: tuple[Trigger, ...]
    retries: int = 4
    config: dict[str, JSON] = field(default_factory=dict)

    @property
    def max_attempts(self) -> int:
        return self.retries + 1


@dataclass(frozen=True, slots=True)
class Run:
    id: str
    function_slug: str
    event_ids: tuple[str, ...]
    status: RunStatus
    created_at: float
    started_at: float | None = None
    ended_at: float | None = None
    output: JSON = None
    error: dict[str, JSON] | None = None
    request_version: int = -1
    force_plan: bool = False
    state_size: int = 0
    step_count: int = 0


class ItemKind(enum.StrEnum):
    DISCOVERY = "discovery"
    """Call the function from the top (``stepId=step``)."""
    STEP = "step"
    """Call one planned step (``stepId=<hash>``)."""
    TIMER = "timer"
    """No call: at ``due_at``, record ``payload["memo"]`` for the step (sleep ends, wait or
    invoke times out), or check the run's ``payload["timeout"]`` (start, finish)."""


@dataclass(frozen=True, slots=True)
class QueueItem:
    """A unit of due work: one call request to an app (with its retries)."""

    id: str
    run_id: str
    kind: ItemKind
    step_id: str
    due_at: float
    attempt: int = 0
    join: bool = True
    """For targeted steps: discover only once no other item of the run is pending."""
    name: str = ""
    payload: JSON = None


class ListenerKind(enum.StrEnum):
    WAIT = "wait"
    """``step.wait_for_event``: the matching event becomes the step's memo."""
    INVOKE = "invoke"
    """``step.invoke``: the child's ``inngest/function.finished`` event resolves the step."""
    CANCEL = "cancel"
    """``cancelOn``: a matching event cancels the run."""


@dataclass(frozen=True, slots=True)
class Listener:
    """A run waiting for an event. ``expression`` refers only to ``async`` (the trigger's
    values were interpolated when the listener was made); ``index`` holds the equality
    terms that let the store find candidates without evaluating every listener."""

    id: str
    run_id: str
    kind: ListenerKind
    event: str
    expires_at: float
    step_id: str = ""
    expression: str | None = None
    index: tuple[tuple[str, JSON], ...] = ()


@dataclass(frozen=True, slots=True)
class Resume:
    """Resolve a waiting step with ``memo`` because ``listener_id`` matched."""

    listener_id: str
    run_id: str
    step_id: str
    memo: JSON


@dataclass(frozen=True, slots=True)
class Memo:
    """A step's recorded result, in the exact shape the SDKs replay (docs/protocol.md §5.4)."""

    step_id: str
    value: JSON
    name: str = ""
    op: str = ""


@dataclass(frozen=True, slots=True)
class StoredMemo:
    step_id: str
    value: JSON
    name: str
    op: str
    seq: int
    recorded_at: float


@dataclass(frozen=True, slots=True)
class Attempt:
    """One call request and what came of it, for the run's history."""

    run_id: str
    item_id: str
    step_id: str
    attempt: int
    started_at: float
    ended_at: float
    outcome: str
    """``completed``, ``step``, ``planned``, ``retry``, ``failed``, ``noop``..."""
    status_code: int = 0
    name: str = ""
    output: JSON = None
    error: str | None = None
    op_step: str = ""
    """The step (hashed id) this call produced, failed or started waiting on, when it is
    one step; "" for a discovery that only planned or a function-level answer."""
    due_at: float | None = None
    """When its item became due: ``started_at - due_at`` is the time it waited in the
    queue (for a slot, a worker, a throttle), apart from the time the call took."""

    @classmethod
    def of(cls, item: QueueItem, at: float, outcome: str, error: str | None = None) -> Attempt:
        """A history row for ``item`` that made no call (a timer, a skip, a failure)."""
        return cls(
            run_id=item.run_id,
            item_id=item.id,
            step_id=item.step_id,
            attempt=item.attempt,
            started_at=at,
            ended_at=at,
            outcome=outcome,
            name=item.name,
            error=error,
            due_at=item.due_at,
        )


@dataclass(frozen=True, slots=True)
class NewItem:
    """A queue item to create. ``after_join``: only if no other item of the run is pending."""

    kind: ItemKind
    step_id: str
    due_at: float
    join: bool = True
    name: str = ""
    after_join: bool = False
    payload: JSON = None


@dataclass(frozen=True, slots=True)
class Rate:
    """A throttle or rate limit on one key: ``limit`` per ``period`` seconds (+ ``burst``)."""

    key: str
    limit: int
    period: float
    burst: int = 0


@dataclass(frozen=True, slots=True)
class Buffer:
    """A debounce or batch on one key. Debounce: the run starts ``period`` after the last
    event, at most ``timeout`` after the first. Batch: up to ``max_size`` events, the run
    starts when full or ``timeout`` after the first."""

    key: str
    period: float = 0.0
    timeout: float | None = None
    max_size: int = 0


@dataclass(frozen=True, slots=True)
class RunFlow:
    """The flow control a new run is subject to, its keys already evaluated."""

    concurrency: tuple[tuple[str, int], ...] = ()
    """``(key, limit)``: at most ``limit`` calls of runs sharing ``key`` in flight."""
    priority: float = 0.0
    """Seconds sooner than its place in the queue."""
    throttle: Rate | None = None
    rate_limit: Rate | None = None
    idempotency: str | None = None
    singleton: str | None = None
    singleton_mode: str = "skip"
    debounce: Buffer | None = None
    batch: Buffer | None = None

    @property
    def gated(self) -> bool:
        """Whether creating the run needs more than its unique keys."""
        return bool(
            self.throttle
            or self.rate_limit
            or self.idempotency
            or self.singleton
            or self.debounce
            or self.batch
        )


@dataclass(frozen=True, slots=True)
class SkipRecord:
    """Why an event did not start a run of a function (recorded, shown per event)."""

    event_id: str
    function_slug: str
    reason: str


@dataclass(frozen=True, slots=True)
class SkipSet:
    """Events that started no run of a function for one reason: how an ingest's refusals
    (the function's trigger expression false for each) travel and are stored, one object
    per function and reason rather than one per event."""

    function_slug: str
    reason: str
    event_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class NewRun:
    """A run to create together with the events that start it."""

    id: str
    function_slug: str
    event_ids: tuple[str, ...]
    key: str
    """Idempotency key, unique per function: a repeat creates nothing."""
    due_at: float
    listeners: tuple[Listener, ...] = ()
    """``cancelOn`` listeners, made with the run."""
    timers: tuple[NewItem, ...] = ()
    """Run timeouts (start, finish), made with the run."""
    flow: RunFlow = RunFlow()
    memos: tuple[StoredMemo, ...] = ()
    """Steps already done, made with the run: a rerun from a step keeps the outputs of
    the steps before it, so the SDK does not run them again."""

    @property
    def plain(self) -> bool:
        """Creating it queues its first call and nothing else: no flow gate decides it, and
        it comes with no memos, timers or listeners."""
        return not (self.flow.gated or self.memos or self.timers or self.listeners)


@dataclass(frozen=True, slots=True)
class RunState:
    """What the executor needs to build a call request."""

    run: Run
    events: tuple[Event, ...]
    memos: tuple[StoredMemo, ...]
    pending_items: int = 0


@dataclass(frozen=True, slots=True)
class Finish:
    status: RunStatus
    output: JSON = None
    error: dict[str, JSON] | None = None


@dataclass(frozen=True, slots=True)
class Cancellation:
    """End ``run_id`` as cancelled (if it has not ended), emitting ``events``."""

    run_id: str
    error: dict[str, JSON]
    """Why, as a ``StandardError`` (``name``, ``message``): the run's error and output."""
    events: tuple[Event, ...] = ()
    """``inngest/function.cancelled`` and ``.finished``, stored only if the cancel applies."""
    runs: tuple[NewRun, ...] = ()
    resumes: tuple[Resume, ...] = ()
    """What those events resolve (an invoking parent)."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one call request changed: the commands the store applies in one transaction."""

    attempt: Attempt
    memos: tuple[Memo, ...] = ()
    enqueue: tuple[NewItem, ...] = ()
    retry_at: float | None = None
    """Call the same item again at this time, with ``attempt + 1``."""
    finish: Finish | None = None
    request_version: int | None = None
    force_plan: bool | None = None
    state_bytes: int = 0
    """Bytes the memos add to the run's state."""
    events: tuple[Event, ...] = ()
    """Events emitted by the server (``inngest/function.finished``...)."""
    runs: tuple[NewRun, ...] = ()
    """Runs those events start."""
    listeners: tuple[Listener, ...] = ()
    """Waits and invokes the run starts."""
    resumes: tuple[Resume, ...] = ()
    """Waiting steps (of any run) that the emitted events resolve."""
    cancels: tuple[Cancellation, ...] = ()
    """Runs that the emitted events cancel."""
