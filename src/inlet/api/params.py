"""Query parameters of the REST reads, parsed into the read model's terms.

Each parser raises ``BadRequest`` naming the parameter, the value it got and what it
expects, so a caller fixes a request from the answer alone. Unknown parameters are
ignored, as a tolerant reader should.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from starlette.datastructures import QueryParams

from inlet.errors import BadRequest
from inlet.model import RunStatus
from inlet.store.queries import MAX_PAGE, RunFilter

DEFAULT_PAGE = 50
DEFAULT_WINDOW = 24 * 60 * 60.0
"""Statistics cover the last day unless ``since`` says otherwise."""
DEFAULT_BUCKET = 60 * 60.0
MIN_BUCKET = 0.001
MAX_BUCKET = 366 * 24 * 60 * 60.0
MAX_BUCKETS = 1000
"""A window cut finer than this is refused: the answer would be mostly empty buckets."""

MAX_TIME = 253_402_300_799.0
"""9999-12-31T23:59:59Z: the last instant an answer can print as RFC 3339."""

_STATUSES = ", ".join(s.value for s in RunStatus)
_TIME_EXAMPLE = '"2026-11-22T18:00:00Z" or 1795370400'


@dataclass(frozen=True, slots=True)
class Window:
    """``[since, until)`` in buckets of ``bucket`` seconds."""

    since: float
    until: float
    bucket: float


def run_filter(params: QueryParams) -> RunFilter:
    """``function``, ``status`` (repeated or comma-separated), ``since``, ``until``, ``q``,
    ``expr`` (an expression over ``event``, ``output``, ``error``: see store/search.py)."""
    since = timestamp(params, "since")
    until = timestamp(params, "until")
    if since is not None and until is not None and since >= until:
        raise BadRequest(
            f"since={params['since']!r} is not before until={params['until']!r}; "
            "expected since < until"
        )
    return RunFilter(
        function_slug=params.get("function") or None,
        statuses=statuses(params),
        created_after=since,
        created_before=until,
        text=params.get("q") or None,
        expression=params.get("expr") or None,
    )


def statuses(params: QueryParams) -> tuple[RunStatus, ...]:
    found: list[RunStatus] = []
    for raw in params.getlist("status"):
        for name in raw.split(","):
            name = name.strip()
            if not name:
                continue
            try:
                status = RunStatus(name.upper())
            except ValueError:
                raise BadRequest(
                    f"status={name!r} is not a run status; expected one of {_STATUSES} "
                    "(any case, repeated or comma-separated)"
                ) from None
            if status not in found:
                found.append(status)
    return tuple(found)


def timestamp(params: QueryParams, name: str) -> float | None:
    """An RFC 3339 time with its offset, or seconds since the epoch."""
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    try:
        seconds = float(raw)
    except ValueError:
        pass
    else:
        if math.isfinite(seconds) and 0 <= seconds <= MAX_TIME:
            return seconds
        raise BadRequest(f"{name}={raw!r} is not a time; expected {_TIME_EXAMPLE}")
    try:
        parsed = datetime.fromisoformat(raw.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"{name}={raw!r} is not a time; expected {_TIME_EXAMPLE}") from None
    if parsed.tzinfo is None:
        # A time without an offset means a different instant on every server.
        raise BadRequest(
            f"{name}={raw!r} has no UTC offset; expected {_TIME_EXAMPLE} (add Z or +HH:MM)"
        )
    try:
        seconds = parsed.timestamp()
    except OverflowError:
        seconds = math.inf
    # Answers print times back, and 0001-01-01+01:00 or 9999-12-31-01:00 cannot be printed.
    if not 0 <= seconds <= MAX_TIME:
        raise BadRequest(
            f"{name}={raw!r} is outside 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z; "
            f"expected {_TIME_EXAMPLE}"
        )
    return seconds


def either(params: QueryParams, name: str, alias: str) -> float | None:
    """The time in ``name`` or in its ``alias`` (Inngest's spelling), not both."""
    if params.get(name) and params.get(alias):
        raise BadRequest(
            f"{name}={params[name]!r} and {alias}={params[alias]!r} name the same bound; "
            f"expected only one of {name} and {alias}"
        )
    return timestamp(params, name) if params.get(name) else timestamp(params, alias)


def limit(params: QueryParams, default: int = DEFAULT_PAGE, maximum: int = MAX_PAGE) -> int:
    raw = params.get("limit")
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= maximum:
        raise BadRequest(f"limit={raw!r} is not a page size; expected 1 to {maximum}")
    return value


def cursor(params: QueryParams) -> str | None:
    """The ``next_cursor`` of the previous page: a run or event id, 26 characters of
    base32."""
    raw = params.get("cursor")
    if raw is None or raw == "":
        return None
    if len(raw) != 26 or not raw.isascii() or not raw.isalnum():
        raise BadRequest(
            f"cursor={raw!r} is not a cursor of this API; expected the metadata.next_cursor "
            "of the previous page"
        )
    return raw.upper()


def window(params: QueryParams, now: float) -> Window:
    """``since``/``until``/``bucket`` with the defaults: the last day, in hours.

    Without ``until`` the window ends at the first bucket boundary after ``now``, so the
    buckets fall on whole hours (of the epoch) and a run made this instant is counted."""
    raw = params.get("bucket")
    bucket = DEFAULT_BUCKET
    if raw:
        try:
            bucket = float(raw)
        except ValueError:
            bucket = math.nan
        if not (math.isfinite(bucket) and MIN_BUCKET <= bucket <= MAX_BUCKET):
            raise BadRequest(
                f"bucket={raw!r} is not a bucket width; expected seconds from {MIN_BUCKET:g} "
                f"to {MAX_BUCKET:g} (a year)"
            )
    since = timestamp(params, "since")
    until = timestamp(params, "until")
    if until is None:
        until = (math.floor(now / bucket) + 1) * bucket
    if since is None:
        since = until - DEFAULT_WINDOW
    if since >= until:
        raise BadRequest(
            f"since={params.get('since')!r} is not before until={params.get('until')!r}; "
            "expected since < until"
        )
    if (until - since) / bucket > MAX_BUCKETS:
        raise BadRequest(
            f"bucket={raw or bucket!r} cuts {until - since:g} seconds into more than "
            f"{MAX_BUCKETS} buckets; expected bucket >= {(until - since) / MAX_BUCKETS:g}"
        )
    return Window(since, until, bucket)


def flag(params: QueryParams, name: str) -> bool:
    """A boolean query parameter: ``true``/``1`` or ``false``/``0`` (absent: false)."""
    raw = params.get(name)
    if raw is None or raw.lower() in ("", "false", "0"):
        return False
    if raw.lower() in ("true", "1"):
        return True
    raise BadRequest(f"{name}={raw!r} is not a boolean; expected true or false")
