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
        return wire


@dataclass(frozen=True, slots=True)
class Trigger:
    event: str | None = None
    expression: str | None = None
    cron: str | None = None


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
    STEP = "step"


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


@dataclass(frozen=True, slots=True)
class Memo:
    """A step's recorded result, in the exact shape the SDKs replay (PROTOCOL §5.5)."""

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


@dataclass(frozen=True, slots=True)
class NewRun:
    """A run to create together with the events that start it."""

    id: str
    function_slug: str
    event_ids: tuple[str, ...]
    key: str
    """Idempotency key, unique per function: a repeat creates nothing."""
    due_at: float


@dataclass(frozen=True, slots=True)
class RunState:
    """What the executor needs to build a call request."""

    run: Run
    events: tuple[Event, ...]
    memos: tuple[StoredMemo, ...]
    pending_items: int = 0


@dataclass(frozen=True, slots=True)
class NewItem:
    """A queue item to create. ``after_join``: only if no other item of the run is pending."""

    kind: ItemKind
    step_id: str
    due_at: float
    join: bool = True
    name: str = ""
    after_join: bool = False


@dataclass(frozen=True, slots=True)
class Finish:
    status: RunStatus
    output: JSON = None
    error: dict[str, JSON] | None = None


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
