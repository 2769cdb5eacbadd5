from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter
from hypothesis import given, settings
from hypothesis import strategies as st

from inlet.errors import InvalidValue
from inlet.scheduler.cron import (
    CronSchedule,
    due_fires,
    fire_key,
    jittered,
    next_fire,
    parse_cron,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def at(text: str) -> float:
    """Epoch seconds of an ISO time with an explicit offset."""
    return datetime.fromisoformat(text).timestamp()


def local(schedule: CronSchedule, instant: float) -> str:
    return datetime.fromtimestamp(instant, schedule.zone).isoformat()


def fires(schedule: CronSchedule, after: float, count: int) -> list[float]:
    out: list[float] = []
    for _ in range(count):
        after = next_fire(schedule, after)
        out.append(after)
    return out


# Parsing


def test_a_plain_spec_is_in_utc_without_jitter() -> None:
    schedule = parse_cron("0 12 * * *")
    assert schedule.zone == ZoneInfo("UTC")
    assert schedule.jitter == 0.0
    assert schedule.expression == "0 12 * * *"


@pytest.mark.parametrize("prefix", ["TZ", "CRON_TZ"])
def test_tz_and_cron_tz_prefixes_set_the_zone_and_keep_the_expression(prefix: str) -> None:
    spec = f"{prefix}=Europe/Paris 0 12 * * *"
    schedule = parse_cron(spec)
    assert schedule.zone == ZoneInfo("Europe/Paris")
    assert schedule.expression == spec
    fire = next_fire(schedule, at("2026-07-01T00:00:00+00:00"))
    assert local(schedule, fire) == "2026-07-01T12:00:00+02:00"


def test_names_ranges_steps_and_lists_are_read_like_robfig() -> None:
    fields = parse_cron("5/20 */6 1,15 JAN-mar mon-FRI").fields
    assert fields.minutes == (5, 25, 45)
    assert fields.hours == (0, 6, 12, 18)
    assert fields.days == {1, 15}
    assert fields.months == {1, 2, 3}
    assert fields.weekdays == {1, 2, 3, 4, 5}


def test_jitter_is_parsed_as_an_inngest_duration() -> None:
    assert parse_cron("* * * * *", "30s").jitter == 30.0
    assert parse_cron("* * * * *", "1m30s").jitter == 90.0
    assert parse_cron("* * * * *", "").jitter == 0.0


@pytest.mark.parametrize(
    ("spec", "complaint"),
    [
        ("", "found 0 fields"),
        ("* * * *", "found 4 fields"),
        ("0 * * * * *", "found 6 fields"),
        ("61 * * * *", "minute 61 is outside 0-59"),
        ("0 24 * * *", "hour 24 is outside 0-23"),
        ("0 0 0 * *", "day-of-month 0 is outside 1-31"),
        ("0 0 * 13 *", "month 13 is outside 1-12"),
        ("0 0 * * 7", "use 0 or SUN for Sunday"),
        ("0 0 * * FUN", "day-of-week 'FUN' is not a number or a name (SUN"),
        ("*/0 * * * *", "step of 0"),
        ("30-10 * * * *", "runs backwards"),
        ("0 0 L * *", "day-of-month 'L' is not a number"),
        ("@hourly", "write '0 * * * *' instead"),
        ("@every 5m", "'*/5 * * * *'"),
        ("0 0 30 2 *", "never fire"),
        ("TZ=Europe/Paris", "followed by a space"),
    ],
)
def test_a_bad_spec_is_rejected_naming_it_and_showing_the_form(spec: str, complaint: str) -> None:
    with pytest.raises(InvalidValue) as raised:
        parse_cron(spec)
    message = raised.value.message
    assert repr(spec) in message
    assert complaint in message
    assert "TZ=Europe/Paris 0 12 * * 1-5" in message


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "Europe", "../etc/passwd", "Local"])
def test_an_unknown_zone_is_rejected_with_an_example(zone: str) -> None:
    with pytest.raises(InvalidValue) as raised:
        parse_cron(f"TZ={zone} 0 12 * * *")
    assert f"unknown time zone {zone!r}" in raised.value.message
    assert '"TZ=Europe/Paris 0 12 * * *"' in raised.value.message


def test_a_spec_longer_than_inngest_allows_is_rejected() -> None:
    with pytest.raises(InvalidValue, match="the limit is 255"):
        parse_cron("0 " + ",".join(["1"] * 200) + " * * *")


@pytest.mark.parametrize(
    ("jitter", "complaint"),
    [
        ("500ms", "'500ms' is 500ms; expected 0 or between 1s and 5m"),
        ("6m", "'6m' is 6m; expected 0 or between 1s and 5m"),
        ("soon", "invalid duration 'soon'"),
    ],
)
def test_jitter_outside_inngests_bounds_is_rejected(jitter: str, complaint: str) -> None:
    with pytest.raises(InvalidValue) as raised:
        parse_cron("* * * * *", jitter)
    assert complaint in raised.value.message


# Next fire


def test_every_minute_fires_on_each_following_minute() -> None:
    schedule = parse_cron("* * * * *")
    start = at("2026-01-01T10:00:30+00:00")
    assert fires(schedule, start, 3) == [start + 30, start + 90, start + 150]


def test_a_fire_time_itself_is_not_the_next_fire() -> None:
    schedule = parse_cron("* * * * *")
    minute = at("2026-01-01T10:00:00+00:00")
    assert next_fire(schedule, minute) == minute + 60


def test_every_fifteen_minutes_fires_on_the_quarter_hours() -> None:
    schedule = parse_cron("*/15 * * * *")
    got = fires(schedule, at("2026-01-01T23:40:00+00:00"), 4)
    assert [local(schedule, t) for t in got] == [
        "2026-01-01T23:45:00+00:00",
        "2026-01-02T00:00:00+00:00",
        "2026-01-02T00:15:00+00:00",
        "2026-01-02T00:30:00+00:00",
    ]


def test_day_of_month_and_weekday_match_either_when_both_are_restricted() -> None:
    # robfig (and Vixie cron): the 13th, or any Friday.
    schedule = parse_cron("0 0 13 * 5")
    got = fires(schedule, at("2026-02-01T00:00:00+00:00"), 4)
    assert [local(schedule, t)[:10] for t in got] == [
        "2026-02-06",
        "2026-02-13",
        "2026-02-20",
        "2026-02-27",
    ]


def test_day_of_month_and_weekday_must_both_match_when_one_is_a_star() -> None:
    schedule = parse_cron("0 0 * 2 1")
    got = fires(schedule, at("2026-01-01T00:00:00+00:00"), 2)
    assert [local(schedule, t)[:10] for t in got] == ["2026-02-02", "2026-02-09"]


def test_the_29th_of_february_waits_for_the_next_leap_year() -> None:
    schedule = parse_cron("0 0 29 2 *")
    assert local(schedule, next_fire(schedule, at("2097-01-01T00:00:00+00:00"))) == (
        "2104-02-29T00:00:00+00:00"
    )


# Daylight saving: a fixed-time schedule fires exactly once per local day.


@pytest.mark.parametrize(
    ("spec", "after", "expected"),
    [
        # Berlin springs forward 2026-03-29 02:00 CET -> 03:00 CEST: 02:30 does not exist
        # and fires at the shifted instant.
        (
            "TZ=Europe/Berlin 30 2 * * *",
            "2026-03-27T12:00:00+00:00",
            [
                "2026-03-28T02:30:00+01:00",
                "2026-03-29T03:30:00+02:00",
                "2026-03-30T02:30:00+02:00",
            ],
        ),
        # Berlin falls back 2026-10-25 03:00 CEST -> 02:00 CET: 02:30 happens twice and
        # fires at the first.
        (
            "TZ=Europe/Berlin 30 2 * * *",
            "2026-10-23T12:00:00+00:00",
            [
                "2026-10-24T02:30:00+02:00",
                "2026-10-25T02:30:00+02:00",
                "2026-10-26T02:30:00+01:00",
            ],
        ),
        # New York springs forward 2026-03-08 02:00 EST -> 03:00 EDT.
        (
            "TZ=America/New_York 30 2 * * *",
            "2026-03-06T12:00:00+00:00",
            [
                "2026-03-07T02:30:00-05:00",
                "2026-03-08T03:30:00-04:00",
                "2026-03-09T02:30:00-04:00",
            ],
        ),
        # New York falls back 2026-11-01 02:00 EDT -> 01:00 EST: 01:30 happens twice.
        (
            "CRON_TZ=America/New_York 30 1 * * *",
            "2026-10-30T12:00:00+00:00",
            [
                "2026-10-31T01:30:00-04:00",
                "2026-11-01T01:30:00-04:00",
                "2026-11-02T01:30:00-05:00",
            ],
        ),
    ],
)
def test_a_daily_schedule_fires_once_on_daylight_saving_days(
    spec: str, after: str, expected: list[str]
) -> None:
    schedule = parse_cron(spec)
    assert [local(schedule, t) for t in fires(schedule, at(after), 3)] == expected


def test_a_gap_time_that_shifts_onto_another_scheduled_time_fires_once() -> None:
    schedule = parse_cron("TZ=Europe/Berlin 30 2,3 * * *")
    got = fires(schedule, at("2026-03-28T12:00:00+00:00"), 2)
    assert [local(schedule, t) for t in got] == [
        "2026-03-29T03:30:00+02:00",
        "2026-03-30T02:30:00+02:00",
    ]


def test_a_wildcard_hour_schedule_keeps_real_time_through_the_repeated_hour() -> None:
    schedule = parse_cron("TZ=Europe/Berlin */30 * * * *")
    got = fires(schedule, at("2026-10-25T01:45:00+02:00"), 5)
    assert [local(schedule, t) for t in got] == [
        "2026-10-25T02:00:00+02:00",
        "2026-10-25T02:30:00+02:00",
        "2026-10-25T02:00:00+01:00",
        "2026-10-25T02:30:00+01:00",
        "2026-10-25T03:00:00+01:00",
    ]
    assert [b - a for a, b in pairwise(got)] == [1800.0] * 4


def test_a_wildcard_hour_schedule_skips_nothing_real_across_spring_forward() -> None:
    schedule = parse_cron("TZ=America/New_York */30 * * * *")
    got = fires(schedule, at("2026-03-08T01:00:00-05:00"), 3)
    assert [local(schedule, t) for t in got] == [
        "2026-03-08T01:30:00-05:00",
        "2026-03-08T03:00:00-04:00",
        "2026-03-08T03:30:00-04:00",
    ]


@settings(max_examples=60, deadline=None)
@given(
    zone=st.sampled_from(["Europe/Berlin", "America/New_York", "Australia/Lord_Howe"]),
    hour=st.integers(0, 23),
    minute=st.integers(0, 59),
    start=st.dates(date(2020, 1, 1), date(2035, 12, 1)),
)
def test_a_fixed_time_daily_schedule_fires_on_every_local_day_exactly_once(
    zone: str, hour: int, minute: int, start: date
) -> None:
    schedule = parse_cron(f"TZ={zone} {minute} {hour} * * *")
    after = datetime(start.year, start.month, start.day, tzinfo=schedule.zone).timestamp()
    days = [datetime.fromtimestamp(t, schedule.zone).date() for t in fires(schedule, after, 40)]
    assert days == [days[0] + timedelta(days=i) for i in range(40)]


# Property: in UTC, next_fire agrees with an independent cron implementation.

_minute_items = st.one_of(
    st.just("*"),
    st.integers(0, 59).map(str),
    st.integers(1, 30).map(lambda step: f"*/{step}"),
    # Distinct ends: croniter misreads a one-value range such as "0-0".
    st.lists(st.integers(0, 59), min_size=2, max_size=2, unique=True).map(
        lambda p: f"{min(p)}-{max(p)}"
    ),
)
_hour_items = st.one_of(
    st.just("*"),
    st.integers(0, 23).map(str),
    st.integers(1, 12).map(lambda step: f"*/{step}"),
)
_specs = st.tuples(
    st.lists(_minute_items, min_size=1, max_size=3).map(",".join),
    st.lists(_hour_items, min_size=1, max_size=2).map(",".join),
    st.one_of(st.just("*"), st.integers(1, 28).map(str)),
    st.one_of(st.just("*"), st.integers(1, 12).map(str)),
    st.one_of(st.just("*"), st.integers(0, 6).map(str)),
).map(" ".join)


@settings(max_examples=150, deadline=None)
@given(
    spec=_specs,
    after=st.integers(at("2000-01-01T00:00:00+00:00"), at("2060-01-01T00:00:00+00:00")),
    fraction=st.sampled_from([0.0, 0.25, 59.5]),
)
def test_next_fire_is_strictly_increasing_and_skips_no_scheduled_utc_instant(
    spec: str, after: int, fraction: float
) -> None:
    schedule = parse_cron(spec)
    # croniter reads a day field as "any" only when it is exactly "*", like robfig here.
    oracle = croniter(spec, datetime.fromtimestamp(after + fraction, UTC))
    previous = after + fraction
    for _ in range(8):
        fire = next_fire(schedule, previous)
        assert fire > previous
        assert fire == oracle.get_next(float)
        previous = fire


# Fire keys and jitter


def test_fire_keys_are_stable_and_name_the_function_and_utc_time() -> None:
    fire = at("2026-03-29T03:30:00+02:00")
    assert fire_key("daily-report", fire) == "cron:daily-report:2026-03-29T01:30:00.000Z"
    assert fire_key("daily-report", fire + 1e-7) == fire_key("daily-report", fire)
    assert fire_key("daily-report", fire) != fire_key("daily-report", fire + 60)
    assert fire_key("other", fire) != fire_key("daily-report", fire)


def test_without_jitter_a_fire_runs_on_time() -> None:
    schedule = parse_cron("* * * * *")
    assert jittered(schedule, 600.0, "cron:f:x") == 600.0


def test_jitter_is_deterministic_bounded_and_varies_between_fires() -> None:
    schedule = parse_cron("* * * * *", "30s")
    base = at("2026-01-01T00:00:00+00:00")
    offsets = []
    for minute in range(200):
        fire = base + minute * 60
        key = fire_key("f", fire)
        delayed = jittered(schedule, fire, key)
        assert delayed == jittered(schedule, fire, key)
        offsets.append(delayed - fire)
    # Inngest's range: at least one second, so the delay shows in RFC 3339 times.
    assert all(1.0 <= offset < 30.0 for offset in offsets)
    assert len({round(offset, 3) for offset in offsets}) > 150
    assert min(offsets) < 5.0
    assert max(offsets) > 26.0


def test_a_one_second_jitter_delays_by_exactly_one_second() -> None:
    schedule = parse_cron("* * * * *", "1s")
    assert jittered(schedule, 60.0, "cron:f:a") == 61.0


# Missed fires


def test_a_new_schedule_has_nothing_due_until_its_first_fire() -> None:
    schedule = parse_cron("* * * * *")
    assert due_fires(schedule, None, at("2026-01-01T10:00:30+00:00")) == []


def test_a_fire_is_due_at_its_instant_and_not_before() -> None:
    schedule = parse_cron("*/15 * * * *")
    cursor = at("2026-01-01T10:00:00+00:00")
    assert due_fires(schedule, cursor, cursor + 899.9) == []
    assert due_fires(schedule, cursor, cursor + 900) == [cursor + 900]


DOWN_AT = at("2026-01-01T09:00:00+00:00")
BACK_AT = at("2026-01-01T12:07:00+00:00")  # three hours and seven minutes later


def test_after_three_hours_down_every_missed_fire_is_created_oldest_first() -> None:
    schedule = parse_cron("*/15 * * * *")
    got = due_fires(schedule, DOWN_AT, BACK_AT)
    assert len(got) == 12
    assert got[0] == DOWN_AT + 900
    assert got[-1] == at("2026-01-01T12:00:00+00:00")
    assert got == sorted(got)


def test_a_long_catch_up_comes_in_pages_of_limit_fires() -> None:
    schedule = parse_cron("* * * * *")
    first = due_fires(schedule, DOWN_AT, BACK_AT, limit=100)
    assert first == [DOWN_AT + 60 * i for i in range(1, 101)]
    rest = due_fires(schedule, first[-1], BACK_AT, limit=100)
    assert rest == [DOWN_AT + 60 * i for i in range(101, 188)]
    assert rest[-1] == BACK_AT


def test_catching_up_latest_creates_only_the_most_recent_missed_fire() -> None:
    schedule = parse_cron("*/15 * * * *")
    assert due_fires(schedule, DOWN_AT, BACK_AT, catch_up="latest") == [
        at("2026-01-01T12:00:00+00:00")
    ]
    daily = parse_cron("0 3 * * *")
    long_ago = at("2025-01-01T00:00:00+00:00")
    assert due_fires(daily, long_ago, BACK_AT, catch_up="latest") == [
        at("2026-01-01T03:00:00+00:00")
    ]
    assert due_fires(daily, BACK_AT - 60, BACK_AT, catch_up="latest") == []


def test_catching_up_none_creates_only_fires_within_the_grace_period() -> None:
    schedule = parse_cron("*/15 * * * *")
    assert due_fires(schedule, DOWN_AT, BACK_AT, catch_up="none") == []
    assert due_fires(schedule, DOWN_AT, BACK_AT, catch_up="none", grace=600) == [
        at("2026-01-01T12:00:00+00:00")
    ]
