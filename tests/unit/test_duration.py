from __future__ import annotations

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from inngest._internal import transforms as sdk_transforms

from inlet.errors import InvalidValue
from inlet.protocol.duration import format_duration, parse_duration, parse_time_or_duration

NOW = 1_795_370_092.370


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0", 0.0),
        ("0s", 0.0),
        ("500ms", 0.5),
        ("10s", 10.0),
        ("1m", 60.0),
        ("2h30m", 9_000.0),
        ("1d", 86_400.0),
        ("1w", 604_800.0),
        ("1h0m0s", 3_600.0),
        ("1.5h", 5_400.0),
        (".5s", 0.5),
        ("1m30s", 90.0),
        ("1s500ms", 1.5),
        ("0.1s", 0.1),
        ("250us", 0.000_25),
        ("250µs", 0.000_25),
        ("1500ns", 0.000_001_5),
        ("+5s", 5.0),
        (" 5s ", 5.0),
        ("1d12h", 129_600.0),
    ],
)
def test_a_duration_string_is_read_as_seconds(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text", ["", "5", "s", "1x", "1 h", "1H", "1h 30m", "abc", "1.2.3s", "1hour", "--5s", "5s-"]
)
def test_a_string_that_is_not_a_duration_is_an_invalid_value_with_an_example(text: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        parse_duration(text)

    assert repr(text) in caught.value.message
    assert '"2h30m"' in caught.value.message


def test_a_duration_too_large_for_a_float_is_an_invalid_value() -> None:
    with pytest.raises(InvalidValue, match="is too large"):
        parse_duration("1" + "0" * 400 + "w")


def test_a_negative_duration_is_an_invalid_value_saying_so() -> None:
    with pytest.raises(InvalidValue, match="'-5s' is negative"):
        parse_duration("-5s")


@pytest.mark.parametrize(
    "delta",
    [
        datetime.timedelta(seconds=1),
        datetime.timedelta(seconds=90),
        datetime.timedelta(hours=2),
        datetime.timedelta(days=3),
        datetime.timedelta(weeks=2),
    ],
)
def test_durations_written_by_the_official_python_sdk_are_read_back(
    delta: datetime.timedelta,
) -> None:
    text = sdk_transforms.to_duration_str(delta)
    assert isinstance(text, str)

    assert parse_duration(text) == delta.total_seconds()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-22T17:54:57.345Z", 1_795_370_097.345),
        ("2026-11-22T17:54:57Z", 1_795_370_097.0),
        ("2026-11-22T19:54:57.345+02:00", 1_795_370_097.345),
        ("2026-11-22T17:54:57.345123456Z", 1_795_370_097.345123),
        ("2026-11-22t17:54:57z", 1_795_370_097.0),
        ("2026-11-22T17:54:57", 1_795_370_097.0),
    ],
)
def test_an_rfc3339_time_is_read_as_epoch_seconds(text: str, expected: float) -> None:
    assert parse_time_or_duration(text, NOW) == pytest.approx(expected, abs=1e-6)


def test_a_sleep_until_time_written_by_the_official_python_sdk_is_read_back() -> None:
    at = datetime.datetime(2026, 11, 22, 17, 54, 57, 345_000, tzinfo=datetime.UTC)

    assert parse_time_or_duration(sdk_transforms.to_iso_utc(at), NOW) == at.timestamp()


def test_a_duration_is_counted_from_now() -> None:
    assert parse_time_or_duration("1m30s", NOW) == NOW + 90
    assert parse_time_or_duration("0", NOW) == NOW


def test_a_long_duration_is_still_a_duration_when_it_is_not_a_date() -> None:
    assert parse_time_or_duration("1000000000s", NOW) == NOW + 1_000_000_000


@pytest.mark.parametrize("text", ["", "soon", "2026-13-45T99:00:00Z", "tomorrow at noon"])
def test_a_string_that_is_neither_time_nor_duration_is_an_invalid_value(text: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        parse_time_or_duration(text, NOW)

    assert repr(text) in caught.value.message
    assert "2026-11-22T17:54:57.345Z" in caught.value.message


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (0.5, "500ms"),
        (0.0015, "1.5ms"),
        (1, "1s"),
        (1.5, "1.5s"),
        (90, "1m30s"),
        (3_600, "1h"),
        (3_601, "1h1s"),
        (5_400.25, "1h30m0.25s"),
        (86_400, "1d"),
        (694_861, "8d1h1m1s"),
        (-90, "-1m30s"),
    ],
)
def test_seconds_are_formatted_with_the_largest_units_first(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@given(st.integers(min_value=0, max_value=10**13))
def test_a_formatted_duration_parses_back_to_the_same_milliseconds(ms: int) -> None:
    assert round(parse_duration(format_duration(ms / 1000)) * 1000) == ms
