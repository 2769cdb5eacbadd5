"""A function's flow-control settings, parsed once from its registered config.

The SDKs send these parts in the function config object (docs/protocol.md §2.4); absent or
``null`` parts mean "not configured". :meth:`FlowConfig.parse` turns the raw dict into
typed, validated values: durations in seconds, expressions compiled (so a bad one fails at
sync time, not on the first event), defaults filled in as the Go server fills them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

from inlet.errors import FunctionConfigInvalid, InvalidValue
from inlet.expr import compile_expression
from inlet.protocol.duration import parse_duration

Scope: TypeAlias = Literal["fn", "env", "account"]
SingletonMode: TypeAlias = Literal["skip", "cancel"]

IDEMPOTENCY_PERIOD = 24 * 3600.0
"""How long an ``idempotency`` key stays taken (Go ``consts.FunctionIdempotencyPeriod``)."""

MAX_CONCURRENCY_LIMITS = 2
MIN_DEBOUNCE, MAX_DEBOUNCE = 1.0, 7 * 24 * 3600.0
"""The debounce periods the Go server accepts."""
_SCOPES: tuple[Scope, ...] = ("fn", "env", "account")


@dataclass(frozen=True, slots=True)
class ConcurrencyLimit:
    """At most ``limit`` steps in progress at once, per evaluated ``key`` within ``scope``.

    Without a key (scope ``fn`` only) it is the function-wide limit.
    """

    limit: int
    key: str | None = None
    scope: Scope = "fn"


@dataclass(frozen=True, slots=True)
class Throttle:
    """``limit`` run starts per ``period`` seconds per key, ``burst`` extra at once.

    Excess runs are delayed, never dropped (GCRA, :mod:`inlet.flow.gcra`).
    """

    limit: int
    period: float
    burst: int = 0
    key: str | None = None

    @property
    def emission(self) -> float:
        """Seconds between two starts at the sustained rate (``period / limit``)."""
        return self.period / self.limit


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most ``limit`` runs per ``period`` seconds per key; excess events are skipped."""

    limit: int
    period: float
    key: str | None = None

    @property
    def emission(self) -> float:
        """Seconds between two admissions at the sustained rate (``period / limit``)."""
        return self.period / self.limit

    @property
    def burst(self) -> int:
        """The GCRA burst the Go server gives every rate limit: ``limit // 10``.

        Go's ``RateLimit`` has no burst field; ``ratelimit_lua.go`` (and the constraint
        API) pass ``int(c.Limit / 10)``, so a limit below 10 admits no burst at all.
        """
        return self.limit // 10


@dataclass(frozen=True, slots=True)
class Debounce:
    """Run once, ``period`` seconds after the last event per key, but at most ``timeout``
    seconds after the first one (when set)."""

    period: float
    key: str | None = None
    timeout: float | None = None


@dataclass(frozen=True, slots=True)
class Batch:
    """Start one run per ``max_size`` events or ``timeout`` seconds after the first, per key.

    Events for which ``condition`` (the SDK's ``if``) is not true run alone, immediately.
    """

    max_size: int
    timeout: float
    key: str | None = None
    condition: str | None = None


@dataclass(frozen=True, slots=True)
class Priority:
    """``run`` evaluates to seconds the run's queue items jump ahead (negative: behind)."""

    run: str


@dataclass(frozen=True, slots=True)
class Singleton:
    """At most one active run per key: ``skip`` the new one or ``cancel`` the old one."""

    key: str | None = None
    mode: SingletonMode = "skip"


@dataclass(frozen=True, slots=True)
class FlowConfig:
    """Every flow-control part of one function; ``None`` / empty means not configured."""

    concurrency: tuple[ConcurrencyLimit, ...] = ()
    throttle: Throttle | None = None
    rate_limit: RateLimit | None = None
    debounce: Debounce | None = None
    batch: Batch | None = None
    priority: Priority | None = None
    idempotency: str | None = None
    singleton: Singleton | None = None

    @classmethod
    def parse(cls, function_config: Mapping[str, Any]) -> FlowConfig:
        """Parse the flow-control parts of a registered function config.

        Tolerant of absent and ``null`` parts and of unknown fields; strict about what is
        there. Raises :class:`FunctionConfigInvalid` naming the field, the bad value and
        what was expected. Defaults and normalisations are the Go server's:

        * ``concurrency`` may be a list, one object or a bare int; limits are sorted by
          ``limit`` ascending; a limit of 0 or less means "unset" and is dropped.
        * ``throttle.limit`` 0 becomes 1; ``throttle.burst`` defaults to 0 (one start at a
          time, what Inngest's docs call "burst 1"; the Python SDK sends ``burst: 1``
          explicitly, which allows two at once).
        * ``idempotency`` replaces ``rateLimit`` entirely, exactly as Go's
          ``SDKFunction.Function()`` turns it into ``rateLimit {1, 24h, key}``; the key
          expression is kept in :attr:`idempotency` for the store's own 24 h check.
        """
        fn_id = function_config.get("id")
        prefix = f"function {fn_id!r}: " if isinstance(fn_id, str) else ""

        def bad(field: str, problem: str) -> FunctionConfigInvalid:
            return FunctionConfigInvalid(f"{prefix}{field} {problem}", field=field)

        idempotency = _expression(function_config.get("idempotency"), "idempotency", bad)
        rate_limit = _rate_limit(function_config.get("rateLimit"), bad)
        return cls(
            concurrency=_concurrency(function_config.get("concurrency"), bad),
            throttle=_throttle(function_config.get("throttle"), bad),
            rate_limit=None if idempotency is not None else rate_limit,
            debounce=_debounce(function_config.get("debounce"), bad),
            batch=_batch(function_config.get("batchEvents"), bad),
            priority=_priority(function_config.get("priority"), bad),
            idempotency=idempotency,
            singleton=_singleton(function_config.get("singleton"), bad),
        )


def _object(raw: Any, field: str, bad: Any) -> Mapping[str, Any] | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise bad(field, f"must be an object, got {raw!r}")
    return raw


def _int(raw: Any, field: str, bad: Any, *, default: int | None = None, minimum: int = 0) -> int:
    if raw is None and default is not None:
        return default
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    if not isinstance(raw, int) or isinstance(raw, bool):
        raise bad(field, f"must be a whole number, got {raw!r}")
    if raw < minimum:
        raise bad(field, f"is {raw}; expected at least {minimum}")
    return raw


def _seconds(raw: Any, field: str, bad: Any) -> float:
    if not isinstance(raw, str):
        raise bad(field, f"must be a duration such as '10s', got {raw!r}")
    try:
        return parse_duration(raw)
    except InvalidValue as exc:
        raise bad(field, exc.message) from None


def _expression(raw: Any, field: str, bad: Any) -> str | None:
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str):
        raise bad(field, f"must be an expression string such as 'event.data.id', got {raw!r}")
    try:
        compile_expression(raw)
    except InvalidValue as exc:
        raise bad(field, exc.message) from None
    return raw


def _concurrency(raw: Any, bad: Any) -> tuple[ConcurrencyLimit, ...]:
    if raw is None:
        return ()
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        items: list[Any] = [{"limit": raw}]
    elif isinstance(raw, Mapping):
        items = [raw]
    elif isinstance(raw, list):
        items = raw
    else:
        raise bad("concurrency", f"must be a list of limits, one limit or a number, got {raw!r}")
    if len(items) > MAX_CONCURRENCY_LIMITS:
        raise bad("concurrency", f"has {len(items)} limits; at most {MAX_CONCURRENCY_LIMITS}")
    limits: list[ConcurrencyLimit] = []
    for i, item in enumerate(items):
        field = f"concurrency[{i}]"
        if not isinstance(item, Mapping):
            raise bad(field, f"must be an object with a limit, got {item!r}")
        limit = _int(item.get("limit"), f"{field}.limit", bad, default=0, minimum=-(2**63))
        scope = item.get("scope") or "fn"
        if scope not in _SCOPES:
            raise bad(f"{field}.scope", f"is {scope!r}; expected 'fn', 'env' or 'account'")
        key = _expression(item.get("key"), f"{field}.key", bad)
        if scope != "fn" and key is None:
            raise bad(f"{field}.key", f"is required with scope {scope!r}")
        if limit <= 0:
            continue  # Go reads 0 as "no limit set"
        limits.append(ConcurrencyLimit(limit=limit, key=key, scope=scope))
    return tuple(sorted(limits, key=lambda c: c.limit))


def _throttle(raw: Any, bad: Any) -> Throttle | None:
    part = _object(raw, "throttle", bad)
    if part is None:
        return None
    limit = _int(part.get("limit"), "throttle.limit", bad, default=0)
    return Throttle(
        limit=max(limit, 1),
        period=_seconds(part.get("period"), "throttle.period", bad),
        burst=_int(part.get("burst"), "throttle.burst", bad, default=0),
        key=_expression(part.get("key"), "throttle.key", bad),
    )


def _rate_limit(raw: Any, bad: Any) -> RateLimit | None:
    part = _object(raw, "rateLimit", bad)
    if part is None:
        return None
    period = _seconds(part.get("period"), "rateLimit.period", bad)
    if period > IDEMPOTENCY_PERIOD:
        raise bad("rateLimit.period", f"is {part.get('period')!r}; at most 24h")
    return RateLimit(
        limit=_int(part.get("limit"), "rateLimit.limit", bad, minimum=1),
        period=period,
        key=_expression(part.get("key"), "rateLimit.key", bad),
    )


def _debounce(raw: Any, bad: Any) -> Debounce | None:
    part = _object(raw, "debounce", bad)
    if part is None:
        return None
    timeout = part.get("timeout")
    period = _seconds(part.get("period"), "debounce.period", bad)
    if not MIN_DEBOUNCE <= period <= MAX_DEBOUNCE:
        raise bad("debounce.period", f"is {part.get('period')!r}; expected 1s to 7d")
    return Debounce(
        period=period,
        key=_expression(part.get("key"), "debounce.key", bad),
        timeout=None if timeout in (None, "") else _seconds(timeout, "debounce.timeout", bad),
    )


def _batch(raw: Any, bad: Any) -> Batch | None:
    part = _object(raw, "batchEvents", bad)
    if part is None:
        return None
    size = part.get("maxSize")
    if not isinstance(size, int) or isinstance(size, bool) or size < 2:
        raise bad("batchEvents.maxSize", f"must be at least 2, got {size!r}")
    timeout = _seconds(part.get("timeout"), "batchEvents.timeout", bad)
    if timeout < 1:
        raise bad("batchEvents.timeout", f"is {part.get('timeout')!r}; at least 1s")
    return Batch(
        max_size=size,
        timeout=timeout,
        key=_expression(part.get("key"), "batchEvents.key", bad),
        condition=_expression(part.get("if"), "batchEvents.if", bad),
    )


def _priority(raw: Any, bad: Any) -> Priority | None:
    part = _object(raw, "priority", bad)
    if part is None:
        return None
    run = _expression(part.get("run"), "priority.run", bad)
    return None if run is None else Priority(run=run)


def _singleton(raw: Any, bad: Any) -> Singleton | None:
    part = _object(raw, "singleton", bad)
    if part is None:
        return None
    raw_mode = part.get("mode") or "skip"  # Go's SingletonModeSkip is the zero value
    mode: SingletonMode
    if raw_mode == "skip":
        mode = "skip"
    elif raw_mode == "cancel":
        mode = "cancel"
    else:
        raise bad("singleton.mode", f"is {raw_mode!r}; expected 'skip' or 'cancel'")
    return Singleton(key=_expression(part.get("key"), "singleton.key", bad), mode=mode)
