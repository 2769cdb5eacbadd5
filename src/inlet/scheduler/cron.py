"""Cron triggers: Inngest's cron dialect, fire times, jitter and missed fires.

Pure maths: nothing here reads the clock or does I/O; times are epoch seconds passed in.
The references below are to ``inngest/inngest`` (read at commit ``253303cd``).

**Dialect.** An SDK sends ``{"cron": "TZ=Europe/Paris 0 12 * * *", "jitter": "30s"}``
(docs/protocol.md §2.4). Inngest validates it at registration with robfig/cron v3 configured for
exactly five fields and *no* descriptors (``CronTrigger.Validate`` in
``pkg/inngest/trigger.go``, called from ``pkg/registration/process.go``), so we accept:

- an optional ``TZ=<zone> `` or ``CRON_TZ=<zone> `` prefix (IANA names; UTC without one,
  which is what the Go server gets from ``time.Local`` in its containers);
- five whitespace-separated fields ``minute hour day-of-month month day-of-week`` with
  ``*``, ``?``, ``N``, ``N-M``, ``*/S``, ``N/S`` (= ``N-max/S``), ``N-M/S`` and comma
  lists; month names ``JAN`` to ``DEC`` and weekday names ``SUN`` to ``SAT`` in any case;
  weekdays ``0`` to ``6`` only (robfig rejects ``7``);
- at most 255 characters (``MaxCronLength``).

Macros (``@hourly``, ``@daily``, ``@every 5m``) are rejected, as Inngest rejects them at
registration even though its scheduler's own parser could read them
(``pkg/execution/cron/cron.go``). Seconds, years, ``L``, ``W`` and ``#`` are rejected too.
Day matching follows robfig (``dayMatches`` in ``vendor/github.com/robfig/cron/v3/spec.go``):
when the day-of-month or the day-of-week field is a bare ``*``/``?`` both must match,
otherwise either may. One deliberate difference: a schedule that can never fire
(``0 0 30 2 *``) is rejected here, where Inngest accepts it and silently never runs it.

**Daylight saving.** robfig walks local wall-clock time in real hours, so a daily
``30 2 * * *`` in Europe/Berlin does not run on the spring-forward day (02:30 does not
exist) and runs twice on the fall-back day (02:30 CEST and 02:30 CET): "0, 1 or 2 times",
inngest/website#1543. Inlet instead fires a fixed-time schedule exactly once per local day,
the way Vixie cron does:

- a wall time inside the spring-forward gap fires at the shifted instant, i.e. read with
  the offset in force before the change (02:30 → 03:30 CEST); if that instant is also a
  scheduled time of its own it fires once;
- a wall time inside the repeated hour fires at its first occurrence only (02:30 CEST) --
  unless the hour field starts with ``*`` (``*``, ``*/2``), a schedule that counts real
  time: ``*/15 * * * *`` keeps firing every 15 minutes through both passes.

The one assumption is that no zone changes its offset twice within one local day (none
does).

**Jitter.** ``jitter`` is an Inngest duration, 0 or between 1s and 5m
(``MinCronJitter``/``MaxCronJitter`` in ``pkg/inngest/trigger.go``). Inngest delays each
fire by a hash of the fire's job id into ``[1s, jitter)`` (``DeterministicJitter`` in
``pkg/execution/cron/cron.go``, applied in ``handleCron`` in
``pkg/execution/executor/service.go``); :func:`jittered` does the same with a hash of the
fire key, so every process computes the same delay.

**Missed fires.** Inngest keeps one queue item per cron: the next fire, computed from the
*previous scheduled time*, never from the clock (``ScheduleNext`` in
``pkg/execution/cron/manager.go`` uses ``ci.ID.Timestamp()``). ``handleCron`` has no
staleness check: an item that comes due late starts its run at once and enqueues the fire
after it, which is also past due. So after downtime with a durable queue every missed fire
runs, oldest first, each once (its idempotency key is the scheduled time in RFC 3339),
until the chain reaches the present. The chain is broken, and missed fires dropped, only
when the function is re-synced with a new version or loses the cron. :func:`due_fires`
defaults to that (``catch_up="all"``) and offers ``"latest"`` and ``"none"`` as opt-ins.
"""

from __future__ import annotations

import hashlib
import re
from calendar import monthrange
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal, NoReturn
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from inlet.errors import InvalidValue
from inlet.protocol.duration import format_duration, parse_duration

CatchUp = Literal["all", "latest", "none"]
"""What :func:`due_fires` does with fires missed while nothing was looking:
``"all"`` runs every one, oldest first (Inngest); ``"latest"`` runs only the most recent;
``"none"`` runs only those less than ``grace`` seconds old."""

UTC_ZONE = ZoneInfo("UTC")
MAX_CRON_LENGTH = 255
MIN_JITTER = 1.0
MAX_JITTER = 300.0

_EXAMPLE = '"0 12 * * *" or "TZ=Europe/Paris 0 12 * * 1-5"'
_FORM = (
    "expected five fields (minute hour day-of-month month day-of-week), optionally "
    f"after TZ=<zone>, such as {_EXAMPLE}"
)
_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_PREFIX = re.compile(r"(?:CRON_)?TZ=")
# One comma-separated item: "*" or "?", a value or a range of values, then an optional step.
_ITEM = re.compile(
    r"(?:(?P<star>[*?])|(?P<low>[A-Za-z0-9]+)(?:-(?P<high>[A-Za-z0-9]+))?)(?:/(?P<step>\d+))?"
)
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}
_WEEKDAYS = {
    name: number for number, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))
}

# Longest wait between two fires of a schedule that can fire at all: 29 February skips
# 2100, so eight years; the search gives up (as robfig does after five) a little later.
_SEARCH_YEARS = 9


@dataclass(frozen=True)
class CronFields:
    """The parsed fields of a cron expression, as sorted values (weekday 0 = Sunday)."""

    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    any_day: bool
    """The day-of-month field is a bare ``*``/``?`` (robfig's "star bit")."""
    any_weekday: bool
    """The day-of-week field is a bare ``*``/``?``."""
    hour_wildcard: bool
    """The hour field starts with ``*``: both passes of a repeated hour fire."""


@dataclass(frozen=True)
class CronSchedule:
    """A cron trigger ready for fire-time maths; build it with :func:`parse_cron`."""

    expression: str
    """The spec exactly as the SDK sent it, ``TZ=`` prefix included (Inngest keys crons by it)."""
    fields: CronFields
    zone: ZoneInfo = UTC_ZONE
    jitter: float = 0.0
    """Seconds; 0 for none."""


def parse_cron(spec: str, jitter: str | None = None) -> CronSchedule:
    """Parse a cron trigger's ``cron`` and ``jitter`` strings (docs/protocol.md §2.4).

    Accepts what Inngest accepts at registration (see the module docstring). Raises
    :class:`InvalidValue` naming the bad value and showing the expected form when the spec,
    its zone or the jitter is invalid, or when the schedule can never fire.
    """
    if len(spec) > MAX_CRON_LENGTH:
        raise InvalidValue(
            f"cron schedule {spec[:40]!r}... is {len(spec)} characters long; "
            f"the limit is {MAX_CRON_LENGTH}"
        )
    zone = UTC_ZONE
    body = spec
    # robfig looks for the prefix at the very start and ends the zone at the first space.
    if _PREFIX.match(spec):
        name, space, rest = spec.partition("=")[2].partition(" ")
        if not space:
            _bad(spec, "the zone must be followed by a space and five fields")
        zone = _zone(spec, name)
        body = rest
    body = body.strip()
    if body.startswith("@"):
        macro = body.split()[0]
        hint = (
            f"write {_MACROS[macro]!r} instead"
            if macro in _MACROS
            else "write an interval as a step, such as '*/5 * * * *'"
        )
        _bad(spec, f"Inngest does not accept macros such as {macro!r}; {hint}")
    parts = body.split()
    if len(parts) != 5:
        _bad(spec, f"found {len(parts)} fields")
    minute, hour, day, month, weekday = parts
    days, any_day = _field(spec, day, "day-of-month", 1, 31)
    weekdays, any_weekday = _field(spec, weekday, "day-of-week", 0, 6, _WEEKDAYS)
    fields = CronFields(
        minutes=tuple(sorted(_field(spec, minute, "minute", 0, 59)[0])),
        hours=tuple(sorted(_field(spec, hour, "hour", 0, 23)[0])),
        days=frozenset(days),
        months=frozenset(_field(spec, month, "month", 1, 12, _MONTHS)[0]),
        weekdays=frozenset(weekdays),
        any_day=any_day,
        any_weekday=any_weekday,
        hour_wildcard=hour.startswith(("*", "?")),
    )
    if not _can_fire(fields):
        _bad(spec, "no month in it has any of its days, so it would never fire")
    return CronSchedule(spec, fields, zone, _jitter(jitter))


def next_fire(schedule: CronSchedule, after: float) -> float:
    """The first scheduled instant strictly after ``after`` (epoch seconds).

    Computed in the schedule's zone with the daylight-saving rules of the module docstring:
    a time in the spring-forward gap fires at the shifted instant, a time in the repeated
    hour fires once (twice only when the hour field starts with ``*``).
    """
    fields = schedule.fields
    zone = schedule.zone
    # A day earlier than ``after``'s local date: a wall time shifted across midnight by a
    # transition can land after ``after``.
    day = datetime.fromtimestamp(after, zone).date() - timedelta(days=1)
    end_year = day.year + _SEARCH_YEARS
    while day.year <= end_year:
        if day.month not in fields.months:
            # Jump to the 1st of the next month rather than walking its days.
            day = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
            continue
        if _day_matches(fields, day):
            offsets = _day_offsets(zone, day)
            if len(offsets) == 1:
                found = _first_on_stable_day(fields, day, offsets.pop(), after)
                if found is not None:
                    return found
            else:
                found = _first_on_any_day(fields, zone, day, after)
                if found is not None:
                    # The transition may reorder wall times across midnight; the next
                    # day's fires are the only others that can come earlier.
                    following = _first_on_any_day(fields, zone, day + timedelta(days=1), after)
                    return found if following is None else min(found, following)
        day += timedelta(days=1)
    raise InvalidValue(
        f"cron schedule {schedule.expression!r} does not fire within {_SEARCH_YEARS} years"
    )


def fire_key(function_slug: str, fire_at: float) -> str:
    """The idempotency key of one fire: ``cron:<slug>:<UTC time to the millisecond>``.

    Deterministic, so two processes, or one process before and after a restart, that
    decide on the same fire collide on a unique index instead of running it twice. Like
    Inngest's (the scheduled time alone, per function), two cron triggers of one function
    that fire at the same instant share the key and so make one run.
    """
    millis = round(fire_at * 1000)
    seconds, fraction = divmod(millis, 1000)
    stamp = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"cron:{function_slug}:{stamp}.{fraction:03d}Z"


def jittered(schedule: CronSchedule, fire_at: float, key: str) -> float:
    """When the run for the fire at ``fire_at`` should start, given its ``key``.

    Without jitter that is ``fire_at``. With jitter it is ``fire_at`` plus an offset in
    ``[1s, jitter)`` (Inngest's ``MinCronJitter`` keeps the delay visible at whole-second
    precision) derived from a hash of ``key``: stable across processes and restarts, and
    different from one fire to the next.
    """
    if schedule.jitter <= 0:
        return fire_at
    low = min(MIN_JITTER, schedule.jitter)
    span_ns = round((schedule.jitter - low) * 1_000_000_000)
    if span_ns <= 0:
        return fire_at + low
    # A keyed hash, not hash(): Python salts str hashes per process.
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return fire_at + low + (int.from_bytes(digest, "big") % span_ns) / 1_000_000_000


def due_fires(
    schedule: CronSchedule,
    last_fire: float | None,
    now: float,
    *,
    catch_up: CatchUp = "all",
    grace: float = 60.0,
    limit: int = 1000,
) -> list[float]:
    """The fires to create when the scheduler looks at ``now``, oldest first.

    ``last_fire`` is the cursor: the latest fire already created, or the time the cron was
    registered. ``None`` (never looked at) yields nothing: like Inngest, a new cron starts
    with the first fire after registration, so the caller stores ``now`` as the cursor.
    Candidates are the scheduled instants in ``(last_fire, now]``; ``catch_up`` picks among
    them (:data:`CatchUp`; ``grace`` is the age limit for ``"none"``). At most ``limit``
    fires are returned, the oldest; when the list is that long the caller stores its last
    item as the cursor and asks again, otherwise it stores ``now``.
    """
    if last_fire is None or limit <= 0:
        return []
    start = last_fire
    if catch_up == "none":
        start = max(last_fire, now - grace)
    elif catch_up == "latest":
        latest = _latest_at_or_before(schedule, last_fire, now)
        return [] if latest is None else [latest]
    fires: list[float] = []
    fire = next_fire(schedule, start)
    while fire <= now and len(fires) < limit:
        fires.append(fire)
        fire = next_fire(schedule, fire)
    return fires


def _latest_at_or_before(schedule: CronSchedule, floor: float, now: float) -> float | None:
    # Probe backwards from ``now`` in doubling steps so a long outage of a frequent
    # schedule costs a few probes rather than one step per missed fire.
    reach = 60.0
    while True:
        probe = max(floor, now - reach)
        fire = next_fire(schedule, probe)
        if fire <= now:
            latest = fire
            while (fire := next_fire(schedule, fire)) <= now:
                latest = fire
            return latest
        if probe == floor:
            return None
        reach *= 2


def _first_on_stable_day(
    fields: CronFields, day: date, offset: float, after: float
) -> float | None:
    # One UTC offset all day: instants follow wall-clock order, plain arithmetic will do.
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() - offset
    last_minute = fields.minutes[-1] * 60
    for hour in fields.hours:
        hour_start = midnight + hour * 3600
        if hour_start + last_minute <= after:
            continue
        for minute in fields.minutes:
            instant = hour_start + minute * 60
            if instant > after:
                return instant
    return None


def _first_on_any_day(fields: CronFields, zone: ZoneInfo, day: date, after: float) -> float | None:
    # A transition day: instants no longer follow wall-clock order, so map scheduled wall
    # times to instants and keep the least, skipping walls that every offset in force puts
    # at or before ``after`` and stopping once every offset puts them after the best.
    if day.month not in fields.months or not _day_matches(fields, day):
        return None
    offsets = _day_offsets(zone, day)
    low, high = min(offsets), max(offsets)
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
    last_minute = fields.minutes[-1] * 60
    best: float | None = None
    for hour in fields.hours:
        if midnight + hour * 3600 + last_minute - low <= after:
            continue
        for minute in fields.minutes:
            naive = midnight + hour * 3600 + minute * 60
            if naive - low <= after:
                continue
            if best is not None and naive - high > best:
                return best
            wall = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
            # fold=0 reads a wall time with the offset before the transition: in a gap that
            # is the shifted instant, in a repeated hour the first occurrence (PEP 495).
            instants = [wall.timestamp()]
            second = wall.replace(fold=1).timestamp()
            if fields.hour_wildcard and second > instants[0]:
                instants.append(second)
            for instant in instants:
                if instant > after and (best is None or instant < best):
                    best = instant
    return best


def _day_offsets(zone: ZoneInfo, day: date) -> set[float]:
    # The UTC offsets (seconds) in force on ``day``. One offset means no transition touches
    # the day: a gap or an overlap at either midnight makes its two folds differ, and one
    # inside the day makes the midnights differ.
    following = day + timedelta(days=1)
    offsets: set[float] = set()
    for moment in (day, following):
        for fold in (0, 1):
            wall = datetime(moment.year, moment.month, moment.day, tzinfo=zone, fold=fold)
            offset = wall.utcoffset()
            offsets.add(0.0 if offset is None else offset.total_seconds())
    return offsets


def _day_matches(fields: CronFields, day: date) -> bool:
    in_month = day.day in fields.days
    in_week = day.isoweekday() % 7 in fields.weekdays
    if fields.any_day or fields.any_weekday:
        return in_month and in_week
    return in_month or in_week


def _can_fire(fields: CronFields) -> bool:
    if fields.any_day or not fields.any_weekday:
        # Every day of the month allowed, or the weekday alone can match: some day fits.
        return True
    # 2000 is a leap year, so 29 February counts as possible.
    return any(day <= monthrange(2000, month)[1] for month in fields.months for day in fields.days)


def _field(
    spec: str, text: str, name: str, low: int, high: int, names: dict[str, int] | None = None
) -> tuple[set[int], bool]:
    values: set[int] = set()
    star = False
    for item in text.split(","):
        match = _ITEM.fullmatch(item)
        if match is None:
            _bad(spec, f"{name} {item!r} is not a value, a range or a step")
        step = int(match["step"]) if match["step"] is not None else 1
        if step == 0:
            _bad(spec, f"{name} {item!r} has a step of 0")
        if match["star"]:
            start, stop = low, high
            # robfig's star bit: * or ? (or */1) anywhere in the field means "any", which
            # switches day matching from OR to AND; */2 is just a list of values.
            star = star or step == 1
        else:
            start = _value(spec, match["low"], name, low, high, names)
            if match["high"] is not None:
                stop = _value(spec, match["high"], name, low, high, names)
            else:
                stop = high if match["step"] is not None else start
            if start > stop:
                _bad(spec, f"{name} range {item!r} runs backwards")
        values.update(range(start, stop + 1, step))
    return values, star


def _value(
    spec: str, text: str, name: str, low: int, high: int, names: dict[str, int] | None
) -> int:
    if names is not None and text.lower() in names:
        return names[text.lower()]
    if not text.isdigit():
        _bad(spec, f"{name} {text!r} is not a number{_names_hint(names)}")
    value = int(text)
    if not low <= value <= high:
        hint = "; use 0 or SUN for Sunday" if name == "day-of-week" and value == 7 else ""
        _bad(spec, f"{name} {value} is outside {low}-{high}{hint}")
    return value


def _names_hint(names: dict[str, int] | None) -> str:
    if names is None:
        return ""
    return f" or a name ({', '.join(name.upper() for name in names)})"


def _zone(spec: str, name: str) -> ZoneInfo:
    if not name:
        _bad(spec, "TZ= names no zone")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidValue(
            f"cron schedule {spec!r} names unknown time zone {name!r}; expected an IANA "
            f"zone such as 'Europe/Paris', 'America/New_York' or 'UTC', e.g. "
            f'"TZ=Europe/Paris 0 12 * * *"'
        ) from None


def _jitter(text: str | None) -> float:
    if text is None or not text.strip():
        return 0.0
    seconds = parse_duration(text)
    if 0 < seconds < MIN_JITTER or seconds > MAX_JITTER:
        raise InvalidValue(
            f"cron jitter {text!r} is {format_duration(seconds)}; expected 0 or between "
            f'{format_duration(MIN_JITTER)} and {format_duration(MAX_JITTER)}, such as "30s"'
        )
    return seconds


def _bad(spec: str, reason: str) -> NoReturn:
    raise InvalidValue(f"invalid cron schedule {spec!r}: {reason}; {_FORM}")
