"""The ``idempotency`` key: at most one run per function per evaluated key per 24 hours.

Go implements the option as ``rateLimit {limit: 1, period: 24h, key}`` (replacing any
``rateLimit`` of the function, see :meth:`FlowConfig.parse`). Inlet's store keeps the key
behind a unique index for :data:`~inlet.flow.config.IDEMPOTENCY_PERIOD` instead; this
module only computes the key text. Independently of this option, runs are always
deduplicated per function and event id by the store.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from inlet.flow.config import FlowConfig
from inlet.flow.keys import digest, evaluate


def idempotency_key(cfg: FlowConfig, fn_slug: str, event: Mapping[str, Any]) -> str | None:
    """``"idempotency:<slug>:<digest>"`` for ``event``, or ``None`` when no key applies.

    ``None`` when the function has no ``idempotency`` expression, or when it evaluates to
    ``false`` or to no value (a missing field): Go's rate limiter answers "not rate
    limited" for a ``false`` key, so such events always run.
    """
    if cfg.idempotency is None:
        return None
    value = evaluate(cfg.idempotency, event)
    if value is None or value is False:
        return None
    return f"idempotency:{fn_slug}:{digest(value)}"
