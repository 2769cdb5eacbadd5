"""Key expressions evaluated against an event, turned into stable store keys.

Concurrency, throttle, rate-limit, debounce, batch, singleton and idempotency keys are CEL
expressions over ``event`` (docs/protocol.md §8.2). The Go server stringifies the result (strings
as they are, anything else with ``%v``) and hashes it; here the value's canonical text
(:func:`key_text`) is hashed with SHA-256, so ``1``, ``1.0`` and ``"1"`` share a key as
they do in Go, and a key never leaks user data into store indexes.

When evaluation yields no value (a missing field, a type error) the Go evaluator returns
``false``: keys then read ``"false"`` and every such event shares one key. Rate limits,
idempotency and singletons instead treat a ``false`` key as "this event is not limited"
(Go's ``ErrNotRateLimited`` / ``ErrNotASingleton``); their functions return ``None``.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from inlet.expr import compile_expression
from inlet.flow.config import FlowConfig

_NO_VALUE = "false"
_MAX_EXACT_FLOAT = 2.0**53


def evaluate(expression: str, event: Mapping[str, Any]) -> Any:
    """``expression`` evaluated with ``event`` (the event's wire dict) bound to ``event``;
    ``None`` when it has no value."""
    return compile_expression(expression).evaluate({"event": event})


def key_text(value: Any) -> str:
    """The canonical text of an evaluated key value, as Go's ``%v`` groups values.

    Strings are themselves; ``None`` (no value) is ``"false"``, Go's result for an
    unknown; booleans are ``true``/``false``; whole floats print as integers (``1.0`` →
    ``"1"``); lists and maps are canonical JSON (sorted keys, no spaces).
    """
    if isinstance(value, str):
        return value
    if value is None:
        return _NO_VALUE
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) < _MAX_EXACT_FLOAT:
            return str(int(value))
        return repr(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def digest(value: Any) -> str:
    """SHA-256 (hex) of :func:`key_text` of ``value``."""
    return hashlib.sha256(key_text(value).encode()).hexdigest()


def _is_unlimited(value: Any) -> bool:
    return value is None or value is False


def concurrency_keys(
    cfg: FlowConfig,
    fn_slug: str,
    event: Mapping[str, Any],
    *,
    env: str = "default",
    account: str = "default",
) -> tuple[tuple[str, int], ...]:
    """The ``(key, limit)`` pairs a run of ``fn_slug`` triggered by ``event`` counts against.

    * no key, scope ``fn``: ``"fn:<slug>"``, the function-wide limit;
    * keyed, scope ``fn``: ``"fn:<slug>:<digest>"``, one virtual queue per value;
    * scope ``env`` / ``account``: ``"env:<env>:<digest>"`` / ``"account:<account>:<digest>"``,
      shared by every function whose key evaluates to the same value.

    Two limits landing on the same key (Go keys by value, not by expression) collapse
    into one pair with the smaller limit, as both of Go's checks count one set.
    """
    pairs: dict[str, int] = {}
    for c in cfg.concurrency:
        if c.key is None:
            key = f"fn:{fn_slug}"
        else:
            scope_id = {"fn": fn_slug, "env": env, "account": account}[c.scope]
            key = f"{c.scope}:{scope_id}:{digest(evaluate(c.key, event))}"
        pairs[key] = min(c.limit, pairs.get(key, c.limit))
    return tuple(pairs.items())


def throttle_key(cfg: FlowConfig, fn_slug: str, event: Mapping[str, Any]) -> str | None:
    """The throttle bucket of this run (always per function), or ``None`` without throttle."""
    if cfg.throttle is None:
        return None
    if cfg.throttle.key is None:
        return f"throttle:{fn_slug}"
    return f"throttle:{fn_slug}:{digest(evaluate(cfg.throttle.key, event))}"


def rate_limit_key(cfg: FlowConfig, fn_slug: str, event: Mapping[str, Any]) -> str | None:
    """The rate-limit bucket of this event, or ``None`` when it is not rate limited: no
    ``rateLimit`` configured, or its key evaluates to ``false`` / no value."""
    if cfg.rate_limit is None:
        return None
    if cfg.rate_limit.key is None:
        return f"ratelimit:{fn_slug}"
    value = evaluate(cfg.rate_limit.key, event)
    if _is_unlimited(value):
        return None
    return f"ratelimit:{fn_slug}:{digest(value)}"


def debounce_key(cfg: FlowConfig, fn_slug: str, event: Mapping[str, Any]) -> str | None:
    """The pending-debounce slot of this event, or ``None`` without debounce."""
    if cfg.debounce is None:
        return None
    if cfg.debounce.key is None:
        return f"debounce:{fn_slug}"
    return f"debounce:{fn_slug}:{digest(evaluate(cfg.debounce.key, event))}"


def batch_key(cfg: FlowConfig, fn_slug: str, event: Mapping[str, Any]) -> str | None:
    """The batch buffer this event joins, or ``None`` without batching."""
    if cfg.batch is None:
        return None
    if cfg.batch.key is None:
        return f"batch:{fn_slug}"
    return f"batch:{fn_slug}:{digest(evaluate(cfg.batch.key, event))}"


def singleton_key(cfg: FlowConfig, fn_slug: str, event: Mapping[str, Any]) -> str | None:
    """The singleton lock of this run, or ``None`` when there is none: no ``singleton``
    configured, or its key evaluates to ``false`` / no value."""
    if cfg.singleton is None:
        return None
    if cfg.singleton.key is None:
        return f"singleton:{fn_slug}"
    value = evaluate(cfg.singleton.key, event)
    if _is_unlimited(value):
        return None
    return f"singleton:{fn_slug}:{digest(value)}"
