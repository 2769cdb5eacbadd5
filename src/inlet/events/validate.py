"""Validation of event ingestion bodies, ``POST /e/{key}`` (docs/protocol.md §1).

Like the Go server, events are taken in order and the first invalid one stops the
request: the ones before it are accepted (and their ids answered with the 400), the ones
after it are not. Error messages name the event by its 0-based position, which is also
the number of events accepted before it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from inlet.errors import EventInvalid, EventTooLarge
from inlet.ids import new_ulid, ulid_from_seed
from inlet.model import JSON, Event

MAX_NAME_LENGTH = 512
RESERVED_PREFIX = "inngest/"
TS_MIN_MS = 315_532_800_000
"""1980-01-01T00:00:00Z: older timestamps are rejected."""
TS_MAX_MS = 4_102_444_800_000
"""2100-01-01T00:00:00Z: later timestamps are rejected."""


@dataclass(frozen=True, slots=True)
class ParsedEvents:
    """What one ingestion request yielded: the accepted events, in request order, and the
    error that stopped it, if any."""

    events: tuple[Event, ...]
    error: EventInvalid | None

    @property
    def ids(self) -> list[str]:
        """The internal ids of the accepted events, as the ``ids`` of the response."""
        return [event.internal_id for event in self.events]


def parse_events(
    body: bytes,
    *,
    seed: str | None,
    now: float,
    max_event_bytes: int,
    max_events: int,
) -> ParsedEvents:
    """Parse and validate an ingestion body: one event object or an array of them.

    ``seed`` is the ``X-Inngest-Event-Id-Seed`` header: with it, the internal ids are the
    deterministic ULIDs of :func:`inlet.ids.ulid_from_seed`, so a retried send gets the
    same ids; without it (or empty), random ULIDs stamped ``now``. An event's ``id`` is the
    user's dedupe key when given, else its internal id.

    Invalid input is reported in ``error`` (an :class:`EventInvalid` or
    :class:`EventTooLarge`), never raised, except a malformed ``seed``, which raises
    :class:`inlet.errors.InvalidValue` before anything is accepted.
    """
    if seed:
        ulid_from_seed(seed, 1)
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        return _rejected(
            f"the request body is not valid JSON: {exc}; "
            "send an event object or an array of event objects"
        )
    if isinstance(payload, dict):
        items: list[Any] = [payload]
    elif isinstance(payload, list):
        items = payload
    else:
        return _rejected(
            f"the request body must be an event object or an array of event objects, "
            f"got {_json_type(payload)}"
        )
    if len(items) > max_events:
        return _rejected(
            f"the request has {len(items)} events; the limit is {max_events} per request; "
            "send them in smaller batches"
        )
    accepted: list[Event] = []
    for index, item in enumerate(items):
        try:
            accepted.append(
                _parse_event(item, index, seed=seed, now=now, max_event_bytes=max_event_bytes)
            )
        except EventInvalid as exc:
            return ParsedEvents(tuple(accepted), exc)
    return ParsedEvents(tuple(accepted), None)


def _rejected(message: str) -> ParsedEvents:
    return ParsedEvents((), EventInvalid(message))


def _parse_event(
    item: object, index: int, *, seed: str | None, now: float, max_event_bytes: int
) -> Event:
    # The field names of the messages (``event[3].data``) are made only for a message.
    if not isinstance(item, dict):
        raise EventInvalid(
            f'{_where(index)} must be a JSON object, got {_json_type(item)}; send {{"name": '
            '"app/user.created", "data": {...}}'
        )
    size = len(orjson.dumps(item))
    if size > max_event_bytes:
        raise EventTooLarge(
            f"{_where(index)} is {size} bytes; the limit is {max_event_bytes} bytes per "
            "event; store large payloads elsewhere and send a reference to them"
        )
    now_ms = int(now * 1000)
    name = _name(item.get("name"), index)
    data = _object(item.get("data"), index, "data")
    # Reserved for Inngest's own metadata (e.g. invoke correlation); a user event that
    # carried it could be mistaken for an invocation result.
    data.pop("_inngest", None)
    user_id = _optional_string(item.get("id"), index, "id", "<your dedupe key>")
    ts = _timestamp(item.get("ts"), index, now_ms)
    version = _optional_string(item.get("v"), index, "v", "2024-01-01.1")
    user = _object(item.get("user"), index, "user")
    meta = item.get("meta")
    internal_id = ulid_from_seed(seed, index + 1) if seed else new_ulid(now)
    return Event(
        internal_id=internal_id,
        name=name,
        data=data,
        id=user_id or internal_id,
        ts=ts,
        v=version,
        user=user,
        received_at=now,
        meta=None if meta is None else _object(meta, index, "meta"),
    )


def _where(index: int, leaf: str = "") -> str:
    """The event at ``index``, or its field ``leaf``, as a message names it."""
    return f"event[{index}].{leaf}" if leaf else f"event[{index}]"


def _name(value: object, index: int) -> str:
    if (
        type(value) is str
        and 0 < len(value) <= MAX_NAME_LENGTH
        and value[: len(RESERVED_PREFIX)].lower() != RESERVED_PREFIX
    ):
        return value
    field = _where(index, "name")
    if value is None:
        raise EventInvalid(
            f'{field} is missing; every event needs a name such as "app/user.created"'
        )
    if not isinstance(value, str):
        raise EventInvalid(
            f'{field} must be a string, got {_json_type(value)}; send "name": "app/user.created"'
        )
    if not value:
        raise EventInvalid(f'{field} is empty; send a name such as "app/user.created"')
    if len(value) > MAX_NAME_LENGTH:
        raise EventInvalid(
            f"{field} is {len(value)} characters long; the limit is {MAX_NAME_LENGTH}"
        )
    raise EventInvalid(
        f"{field} {value!r} is reserved: names starting with {RESERVED_PREFIX!r} belong "
        'to Inngest\'s own events; use your own prefix such as "app/"'
    )


def _object(value: object, index: int, leaf: str) -> dict[str, JSON]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise EventInvalid(
            f"{_where(index, leaf)} must be a JSON object, got {_json_type(value)}; send "
            f'"{leaf}": {{...}}'
        )
    return value


def _optional_string(value: object, index: int, leaf: str, example: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise EventInvalid(
            f"{_where(index, leaf)} must be a string, got {_json_type(value)}; send "
            f'"{leaf}": "{example}" or leave it out'
        )
    return value


def _timestamp(value: object, index: int, now_ms: int) -> int:
    if value is None:
        return now_ms
    # type() rather than isinstance(): JSON true/false are Python ints.
    if type(value) is not int:
        raise EventInvalid(
            f"{_where(index, 'ts')} must be integer milliseconds since the epoch, got "
            f'{_json_type(value)} {_show(value)}; send e.g. "ts": {now_ms}'
        )
    if value == 0:
        return now_ms
    if not TS_MIN_MS <= value <= TS_MAX_MS:
        hint = (
            "; it looks like seconds: multiply by 1000"
            if TS_MIN_MS <= value * 1000 <= TS_MAX_MS
            else ""
        )
        raise EventInvalid(
            f"{_where(index, 'ts')} {value} is not between 1980-01-01 and 2100-01-01 in "
            f"milliseconds since the epoch{hint}"
        )
    return value


def _show(value: object) -> str:
    text = orjson.dumps(value).decode()
    return text if len(text) <= 40 else text[:40] + "..."


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__
