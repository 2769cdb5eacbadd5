"""A function's run-time configuration, parsed and validated once, at registration.

:meth:`FunctionSpec.parse` is the one reader of a registered function's config: its flow
control (:class:`~inlet.flow.config.FlowConfig`), its ``cancel`` (cancelOn) entries and its
``timeouts``. Registration calls it to refuse what the Go server refuses, with the field
path in the error; the trigger registry keeps the parsed value, so nothing reads the raw
config again when an event arrives.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from inlet.errors import FunctionConfigInvalid, InvalidValue
from inlet.expr import compile_expression
from inlet.flow.config import FlowConfig
from inlet.protocol.duration import parse_duration

MAX_CANCEL = 5
"""cancelOn entries a function may have (the Go server's limit)."""
DEFAULT_CANCEL_TIMEOUT = 365 * 24 * 60 * 60.0
"""How long a run listens for its cancelOn event when the entry sets no timeout."""
EXCLUSIVE_WITH_BATCH = ("cancel", "debounce", "singleton", "priority")
"""What a batched function cannot also have: a batch run belongs to many events."""


@dataclass(frozen=True, slots=True)
class CancelOn:
    """Cancel a run when ``event`` arrives (and ``condition``, with the run's trigger
    fixed into it, holds), for ``timeout`` seconds after the run starts."""

    event: str
    condition: str | None = None
    timeout: float = DEFAULT_CANCEL_TIMEOUT


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    """Everything a function's runs start with besides their trigger."""

    flow: FlowConfig = field(default_factory=FlowConfig)
    cancel: tuple[CancelOn, ...] = ()
    start_timeout: float | None = None
    """A run not started this many seconds after it was made is cancelled."""
    finish_timeout: float | None = None
    """A run not finished this many seconds after it started is cancelled."""

    @classmethod
    def parse(cls, config: Mapping[str, Any]) -> FunctionSpec:
        """Parse a function's config. Raises :class:`FunctionConfigInvalid` naming the
        function, the field path (also in ``.field``), the bad value and what is expected."""
        fn_id = config.get("id")
        prefix = f"function {fn_id!r}: " if isinstance(fn_id, str) else ""

        def bad(field: str, problem: str) -> FunctionConfigInvalid:
            return FunctionConfigInvalid(f"{prefix}{field} {problem}", field=field)

        flow = FlowConfig.parse(config)
        if flow.batch is not None:
            for other in EXCLUSIVE_WITH_BATCH:
                if config.get(other):
                    raise bad("batchEvents", f"cannot be combined with {other}")
        start, finish = _timeouts(config.get("timeouts"), bad)
        return cls(flow, _cancel(config.get("cancel"), bad), start, finish)


def _duration(raw: Any, field: str, bad: Any) -> float:
    if not isinstance(raw, str) or not raw:
        raise bad(field, f"must be a duration such as '10s', got {raw!r}")
    try:
        return parse_duration(raw)
    except InvalidValue as exc:
        raise bad(field, exc.message) from None


def _cancel(raw: Any, bad: Any) -> tuple[CancelOn, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise bad("cancel", f"must be a list of {{event, if, timeout}} objects, got {raw!r}")
    if len(raw) > MAX_CANCEL:
        raise bad("cancel", f"has {len(raw)} entries; at most {MAX_CANCEL}")
    entries = []
    for i, entry in enumerate(raw):
        field = f"cancel[{i}]"
        if not isinstance(entry, Mapping):
            raise bad(field, f"must be an object with an event, got {entry!r}")
        event = entry.get("event")
        if not isinstance(event, str) or not event:
            raise bad(f"{field}.event", f"must be an event name, got {event!r}")
        condition = entry.get("if")
        if condition in (None, ""):
            condition = None
        elif not isinstance(condition, str):
            raise bad(f"{field}.if", f"must be an expression string, got {condition!r}")
        else:
            try:
                compile_expression(condition)
            except InvalidValue as exc:
                raise bad(f"{field}.if", exc.message) from None
        timeout = entry.get("timeout")
        seconds = (
            DEFAULT_CANCEL_TIMEOUT
            if timeout in (None, "")
            else _duration(timeout, f"{field}.timeout", bad)
        )
        entries.append(CancelOn(event, condition, seconds))
    return tuple(entries)


def _timeouts(raw: Any, bad: Any) -> tuple[float | None, float | None]:
    if raw is None:
        return None, None
    if not isinstance(raw, Mapping):
        raise bad("timeouts", f"must be an object with start and finish, got {raw!r}")
    found: list[float | None] = []
    for which in ("start", "finish"):
        value = raw.get(which)
        found.append(None if value in (None, "") else _duration(value, f"timeouts.{which}", bad))
    return found[0], found[1]
