from __future__ import annotations

from typing import Any

import orjson
import pytest
from ulid import ULID

from inlet.errors import EventInvalid, EventTooLarge, InvalidValue
from inlet.events.validate import ParsedEvents, parse_events
from inlet.ids import ulid_from_seed, ulid_time

NOW = 1_795_370_092.370
NOW_MS = 1_795_370_092_370
SEED = "1743130137367,eii2YKXRVTJPuA=="


def parse(
    body: Any,
    *,
    seed: str | None = None,
    max_event_bytes: int = 512 * 1024,
    max_events: int = 5000,
) -> ParsedEvents:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return parse_events(
        raw, seed=seed, now=NOW, max_event_bytes=max_event_bytes, max_events=max_events
    )


def rejected(body: Any, **options: Any) -> EventInvalid:
    parsed = parse(body, **options)
    assert parsed.error is not None
    return parsed.error


def test_the_python_sdks_observed_body_is_accepted_as_sent() -> None:
    body = (
        b'[{"data":{"a":1},"name":"app/one","ts":1795370092370},'
        b'{"data":{},"id":"dedup-1","name":"app/two","ts":1795370092370}]'
    )

    parsed = parse(body)

    assert parsed.error is None
    one, two = parsed.events
    assert (one.name, one.data, one.ts, one.user, one.v) == ("app/one", {"a": 1}, NOW_MS, {}, None)
    assert (two.name, two.data, two.id) == ("app/two", {}, "dedup-1")
    assert one.received_at == NOW


def test_a_single_object_is_one_event() -> None:
    parsed = parse({"name": "app/one"})

    assert parsed.error is None
    assert [event.name for event in parsed.events] == ["app/one"]


def test_an_empty_array_accepts_nothing_and_is_not_an_error() -> None:
    assert parse([]) == ParsedEvents((), None)


def test_a_body_that_is_not_json_is_rejected_saying_where() -> None:
    error = rejected(b'[{"name": "app/one",}]')

    assert "not valid JSON" in error.message
    assert "column" in error.message


def test_an_empty_body_is_not_json() -> None:
    assert "not valid JSON" in rejected(b"").message


@pytest.mark.parametrize(
    ("body", "kind"), [(b'"app/x"', "string"), (b"42", "number"), (b"null", "null")]
)
def test_a_body_that_is_neither_an_object_nor_an_array_is_rejected(body: bytes, kind: str) -> None:
    error = rejected(body)

    assert f"got {kind}" in error.message


def test_more_events_than_the_limit_are_all_rejected() -> None:
    parsed = parse([{"name": "app/x"}] * 4, max_events=3)

    assert parsed.events == ()
    assert parsed.error is not None
    assert "4 events; the limit is 3" in parsed.error.message


def test_events_before_the_first_invalid_one_are_accepted_and_later_ones_are_not() -> None:
    parsed = parse([{"name": "app/a"}, {"name": "app/b"}, {"name": ""}, {"name": "app/d"}])

    assert [event.name for event in parsed.events] == ["app/a", "app/b"]
    assert parsed.error is not None
    assert parsed.error.message.startswith("event[2].name")


def test_an_array_item_that_is_not_an_object_is_rejected_with_its_index() -> None:
    error = rejected([{"name": "app/a"}, "app/b"])

    assert error.message.startswith("event[1] must be a JSON object, got string")


def test_a_missing_name_is_rejected_with_an_example() -> None:
    error = rejected([{"data": {}}])

    assert error.message.startswith("event[0].name is missing")
    assert '"app/user.created"' in error.message


@pytest.mark.parametrize(
    ("name", "fragment"), [(5, "got number"), (None, "is missing"), ("", "is empty")]
)
def test_a_name_must_be_a_non_empty_string(name: object, fragment: str) -> None:
    assert fragment in rejected({"name": name}).message


def test_a_name_of_512_characters_is_accepted_and_513_is_not() -> None:
    assert parse({"name": "a" * 512}).error is None

    error = rejected({"name": "a" * 513})

    assert error.message == "event[0].name is 513 characters long; the limit is 512"


@pytest.mark.parametrize(
    "name", ["inngest/function.finished", "Inngest/x", "INNGEST/scheduled.timer"]
)
def test_a_name_in_the_reserved_inngest_namespace_is_rejected(name: str) -> None:
    error = rejected({"name": name})

    assert error.message.startswith(f"event[0].name {name!r} is reserved")


def test_a_name_merely_containing_inngest_is_fine() -> None:
    assert parse({"name": "app/inngest/thing"}).error is None


@pytest.mark.parametrize("body", [{"name": "app/x"}, {"name": "app/x", "data": None}])
def test_missing_or_null_data_becomes_an_empty_object(body: dict[str, Any]) -> None:
    assert parse(body).events[0].data == {}


@pytest.mark.parametrize(("data", "kind"), [([1, 2], "array"), ("x", "string"), (3, "number")])
def test_data_that_is_not_an_object_is_rejected_with_the_index_and_a_fix(
    data: object, kind: str
) -> None:
    error = rejected([{"name": "app/a"}, {"name": "app/b"}, {"name": "app/c", "data": data}])

    assert error.message == f'event[2].data must be a JSON object, got {kind}; send "data": {{...}}'


def test_the_internal_inngest_metadata_key_is_stripped_from_data() -> None:
    event = parse({"name": "app/x", "data": {"_inngest": {"fn_id": "f"}, "keep": 1}}).events[0]

    assert event.data == {"keep": 1}


def test_without_a_user_id_the_event_id_is_the_internal_id() -> None:
    event = parse({"name": "app/x"}).events[0]

    assert event.id == event.internal_id
    assert ulid_time(event.internal_id) == pytest.approx(NOW)


@pytest.mark.parametrize("user_id", ["", None])
def test_an_empty_or_null_id_counts_as_absent(user_id: object) -> None:
    event = parse({"name": "app/x", "id": user_id}).events[0]

    assert event.id == event.internal_id


def test_a_user_id_is_the_dedupe_key_and_the_internal_id_stays_a_ulid() -> None:
    first = parse({"name": "app/x", "id": "order-42"}).events[0]
    second = parse({"name": "app/x", "id": "order-42"}).events[0]

    assert first.id == second.id == "order-42"
    assert first.internal_id != second.internal_id
    assert ULID.from_str(first.internal_id)


def test_an_id_that_is_not_a_string_is_rejected() -> None:
    error = rejected({"name": "app/x", "id": 42})

    assert error.message.startswith("event[0].id must be a string, got number")


@pytest.mark.parametrize(
    "body", [{"name": "app/x"}, {"name": "app/x", "ts": None}, {"name": "app/x", "ts": 0}]
)
def test_a_missing_null_or_zero_ts_becomes_now_in_milliseconds(body: dict[str, Any]) -> None:
    assert parse(body).events[0].ts == NOW_MS


@pytest.mark.parametrize("ts", [b"1.7e12", b"1700000000000.5", b"1700000000000.0"])
def test_a_float_ts_is_rejected_with_the_index_named(ts: bytes) -> None:
    error = rejected(b'[{"name":"app/a"},{"name":"app/b","ts":' + ts + b"}]")

    assert error.message.startswith("event[1].ts must be integer milliseconds since the epoch")


@pytest.mark.parametrize("ts", ['"1700000000000"', "true"])
def test_a_ts_that_is_not_a_number_is_rejected(ts: str) -> None:
    error = rejected(f'{{"name":"app/a","ts":{ts}}}'.encode())

    assert "must be integer milliseconds" in error.message


def test_a_ts_in_seconds_is_rejected_with_a_hint() -> None:
    error = rejected({"name": "app/x", "ts": 1_795_370_092})

    assert "event[0].ts 1795370092 is not between 1980-01-01 and 2100-01-01" in error.message
    assert "looks like seconds" in error.message


@pytest.mark.parametrize("ts", [315_532_799_999, 4_102_444_800_001, -1, 10**18])
def test_a_ts_outside_1980_to_2100_is_rejected_naming_the_value(ts: int) -> None:
    error = rejected({"name": "app/x", "ts": ts})

    assert f"event[0].ts {ts} is not between" in error.message
    assert "looks like seconds" not in error.message


@pytest.mark.parametrize("ts", [315_532_800_000, 4_102_444_800_000])
def test_the_ts_bounds_themselves_are_accepted(ts: int) -> None:
    assert parse({"name": "app/x", "ts": ts}).events[0].ts == ts


def test_v_is_kept_when_given() -> None:
    assert parse({"name": "app/x", "v": "2024-01-01.1"}).events[0].v == "2024-01-01.1"


def test_a_v_that_is_not_a_string_is_rejected() -> None:
    assert rejected({"name": "app/x", "v": 1}).message.startswith("event[0].v must be a string")


def test_user_defaults_to_an_empty_object_and_is_kept_when_given() -> None:
    assert parse({"name": "app/x"}).events[0].user == {}
    assert parse({"name": "app/x", "user": {"id": 7}}).events[0].user == {"id": 7}


def test_a_user_that_is_not_an_object_is_rejected() -> None:
    error = rejected({"name": "app/x", "user": "bob"})

    assert error.message == 'event[0].user must be a JSON object, got string; send "user": {...}'


def test_unknown_keys_are_ignored() -> None:
    parsed = parse({"name": "app/x", "meta": {"sessions": []}, "extra": 1})

    assert parsed.error is None


def test_an_event_over_the_size_limit_is_too_large_naming_index_size_and_limit() -> None:
    small = {"name": "app/a"}
    big = {"name": "app/b", "data": {"blob": "x" * 200}}
    size = len(orjson.dumps(big))

    parsed = parse([small, big], max_event_bytes=size - 1)

    assert [event.name for event in parsed.events] == ["app/a"]
    assert isinstance(parsed.error, EventTooLarge)
    assert parsed.error.message.startswith(
        f"event[1] is {size} bytes; the limit is {size - 1} bytes per event"
    )


def test_an_event_exactly_at_the_size_limit_is_accepted() -> None:
    event = {"name": "app/b", "data": {"blob": "x" * 200}}

    assert parse(event, max_event_bytes=len(orjson.dumps(event))).error is None


def test_every_error_is_an_event_invalid_with_http_400_or_413() -> None:
    assert rejected({"name": ""}).http_status == 400
    assert rejected({"name": "a", "data": {"x": "y" * 50}}, max_event_bytes=10).http_status == 413


def test_a_seed_gives_each_event_the_ulid_of_its_1_based_position() -> None:
    parsed = parse([{"name": "app/a"}, {"name": "app/b", "id": "mine"}], seed=SEED)

    first, second = parsed.events
    assert first.internal_id == first.id == ulid_from_seed(SEED, 1)
    assert second.internal_id == ulid_from_seed(SEED, 2)
    assert second.id == "mine"
    assert parsed.ids == [ulid_from_seed(SEED, 1), ulid_from_seed(SEED, 2)]


def test_the_same_seed_and_body_give_the_same_ids_so_a_retry_is_deduplicated() -> None:
    body = [{"name": "app/a"}, {"name": "app/b"}]

    assert parse(body, seed=SEED).ids == parse(body, seed=SEED).ids
    assert [e.id for e in parse(body, seed=SEED).events] == [
        e.id for e in parse(body, seed=SEED).events
    ]


def test_without_a_seed_each_request_gets_new_ids() -> None:
    body = [{"name": "app/a"}]

    assert parse(body).ids != parse(body).ids


def test_an_empty_seed_is_treated_as_no_seed() -> None:
    assert parse({"name": "app/a"}, seed="").error is None


def test_a_malformed_seed_is_an_invalid_value_before_anything_is_accepted() -> None:
    with pytest.raises(InvalidValue, match="X-Inngest-Event-Id-Seed"):
        parse({"name": "app/a"}, seed="not-a-seed")


def test_meta_is_kept_as_sent_and_must_be_an_object() -> None:
    meta = {"propagated_sessions": [{"id": "s-1"}]}
    (event,) = parse({"name": "app/a", "meta": meta}).events
    assert event.meta == meta
    assert event.to_wire()["meta"] == meta
    (plain,) = parse({"name": "app/a"}).events
    assert plain.meta is None and "meta" not in plain.to_wire()
    error = rejected({"name": "app/a", "meta": "sessions"})
    assert "event[0].meta must be a JSON object, got string" in str(error)
