"""Reading a JSON request body: an object, and its fields checked one by one, each error
naming the field and what was expected."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from starlette.requests import Request

from inlet.api.params import MAX_TIME
from inlet.errors import BadRequest


async def json_object(request: Request, *, required: bool = True) -> dict[str, Any]:
    """The body as a JSON object; an empty body is ``{}`` unless ``required``."""
    raw = await request.body()
    if not raw.strip() and not required:
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BadRequest(f"the body must be a JSON object, not {type(body).__name__}")
    return body


def timestamp(value: object, field: str) -> float | None:
    """An RFC 3339 time (or null) as epoch seconds."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            if parsed.tzinfo is not None and 0 <= parsed.timestamp() <= MAX_TIME:
                return parsed.timestamp()
    raise BadRequest(
        f"{field}={value!r} is not an RFC 3339 time with its offset, between 1970 and 9999, "
        'such as "2026-11-22T18:00:00Z"'
    )


def text(body: dict[str, Any], field: str, *, default: str | None = None) -> str | None:
    value = body.get(field, default)
    if value is not None and not isinstance(value, str):
        raise BadRequest(f"{field} must be a string, not {orjson.dumps(value).decode()[:80]}")
    return value


def flag(body: dict[str, Any], field: str) -> bool:
    value = body.get(field, False)
    if not isinstance(value, bool):
        raise BadRequest(f"{field} must be true or false, not {orjson.dumps(value).decode()[:80]}")
    return value


def strings(body: dict[str, Any], field: str) -> list[str]:
    value = body.get(field)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadRequest(f'{field} must be a list of strings, e.g. ["Failed"]')
    return value
