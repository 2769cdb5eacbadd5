"""The alert rules file (``--alert-rules FILE``, TOML): read once at start-up into
:class:`~inlet.alerts.rules.Rules`, or refused with an error that names the file, the line,
the key or value at fault and what is expected. Unknown rules and keys are errors, with
the nearest valid name. The format is in ``docs/alerts.md``::

    interval = "10s"

    [rules."function.failing"]
    runs = 20
    max_success_rate = 0.5

    [rules."function.failing".functions."shop-nightly"]
    enabled = false

    [rules."app.unreachable"]
    after = "2m"

Durations are seconds (a number) or a string such as ``"90s"``, ``"5m"``, ``"1h"``,
``"2h30m"``, ``"1d"``.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from inlet.alerts.rules import (
    APP_UNREACHABLE,
    EVENTS_NO_RUNS,
    FUNCTION_FAILING,
    PER_FUNCTION,
    QUEUE_LATE,
    RULES,
    RUN_NO_PROGRESS,
    Failing,
    NoRuns,
    Rules,
    RuleSettings,
)
from inlet.errors import ConfigError, InvalidValue
from inlet.protocol.duration import parse_duration

DURATION: Final = 'a duration: seconds, or a string such as "90s", "5m", "1h" or "1d"'


@dataclass(frozen=True, slots=True)
class Key:
    """A setting a rule takes: how its value is checked and what is expected of it."""

    check: Callable[[Any], Any | None]
    """The value as the rule keeps it, or None when it is not valid."""
    expected: str


def _positive_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 1 else None


def _duration(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        try:
            seconds = parse_duration(value)
        except InvalidValue:
            return None
    else:
        return None
    return seconds if seconds > 0 else None


def _rate(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if 0 <= value < 1 else None


def _bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


ENABLED = Key(_bool, "true or false")
AFTER = Key(_duration, DURATION)
KEYS: Final[Mapping[str, Mapping[str, Key]]] = {
    FUNCTION_FAILING: {
        "enabled": ENABLED,
        "runs": Key(_positive_int, "a whole number of runs, 1 or more, e.g. 10"),
        "window": Key(_duration, DURATION),
        "min_runs": Key(_positive_int, "a whole number of runs, 1 or more, e.g. 5"),
        "max_success_rate": Key(
            _rate, "a success rate from 0 up to (not including) 1, e.g. 0.5 for 50%"
        ),
        "first_runs": Key(_positive_int, "a whole number of runs, 1 or more, e.g. 3"),
    },
    QUEUE_LATE: {"enabled": ENABLED, "after": AFTER},
    APP_UNREACHABLE: {"enabled": ENABLED, "after": AFTER},
    RUN_NO_PROGRESS: {"enabled": ENABLED, "after": AFTER},
    EVENTS_NO_RUNS: {
        "enabled": ENABLED,
        "window": Key(_duration, DURATION),
        "min_events": Key(_positive_int, "a whole number of events, 1 or more, e.g. 1"),
    },
}
TOP: Final = ("interval", "rules")
FUNCTIONS: Final = "functions"


def rules_of(path: str | None, interval: float | None = None) -> Rules:
    """The rules a server runs: those of the file at ``path`` (None: the defaults), every
    ``interval`` seconds when given (``--alert-interval`` wins over the file)."""
    rules = load(path) if path else Rules()
    return rules if interval is None else replace(rules, interval=interval)


def load(path: str) -> Rules:
    """The rules of the file at ``path``; raises :class:`ConfigError` when it cannot be
    read or is not valid."""
    try:
        source = Path(path).expanduser().read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"--alert-rules {path!r} cannot be read ({exc.__class__.__name__}: {exc}); "
            "expected a TOML file of alert rules, see docs/alerts.md (env: INLET_ALERT_RULES)"
        ) from None
    return parse(source, path)


def parse(source: str, name: str) -> Rules:
    """The rules in ``source`` (the text of the file called ``name``)."""
    try:
        document = tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"alert rules file {name!r} is not valid TOML: {exc}") from None
    return _Reader(source, name).rules(document)


class _Reader:
    def __init__(self, source: str, name: str) -> None:
        self._lines = source.splitlines()
        self._name = name

    def fail(self, path: tuple[str, ...], problem: str) -> ConfigError:
        line = locate(self._lines, path)
        where = f", line {line}" if line is not None else ""
        return ConfigError(f"alert rules file {self._name!r}{where}: {problem}")

    def unknown(self, path: tuple[str, ...], what: str, known: Sequence[str]) -> ConfigError:
        near = difflib.get_close_matches(path[-1], known, n=1, cutoff=0.5)
        hint = f"did you mean {near[0]!r}? " if near else ""
        table = f" in [{dotted(path[:-1])}]" if path[:-1] else ""
        return self.fail(
            path, f"unknown {what} {path[-1]!r}{table}; {hint}expected one of {', '.join(known)}"
        )

    def rules(self, document: Mapping[str, Any]) -> Rules:
        for key in document:
            if key not in TOP:
                raise self.unknown((key,), "key", TOP)
        rules = Rules()
        if "interval" in document:
            interval = _duration(document["interval"])
            if interval is None:
                raise self.bad(("interval",), document["interval"], DURATION)
            rules = replace(rules, interval=interval)
        tables = document.get("rules", {})
        if not isinstance(tables, dict):
            raise self.fail(("rules",), 'rules is not a table; expected [rules."RULE"] tables')
        for rule in tables:
            if rule not in RULES:
                raise self.unknown(("rules", rule), "rule", RULES)
        functions: dict[str, dict[str, RuleSettings]] = {}
        for rule in RULES:
            table = tables.get(rule)
            if table is None:
                continue
            path = ("rules", rule)
            settings = self.settings(path, table, defaults(rules, rule), rule in PER_FUNCTION)
            rules = with_settings(rules, rule, settings)
            overrides = table.get(FUNCTIONS, {}) if rule in PER_FUNCTION else {}
            if not isinstance(overrides, dict):
                raise self.fail(
                    (*path, FUNCTIONS),
                    f"{FUNCTIONS} is not a table; expected "
                    f'[rules."{rule}".functions."FUNCTION-SLUG"] tables',
                )
            for slug, own in overrides.items():
                functions.setdefault(rule, {})[slug] = self.settings(
                    (*path, FUNCTIONS, slug), own, settings, False
                )
        frozen = {rule: MappingProxyType(by_slug) for rule, by_slug in functions.items()}
        return replace(rules, functions=MappingProxyType(frozen))

    def bad(self, path: tuple[str, ...], value: Any, expected: str) -> ConfigError:
        table = f"[{dotted(path[:-1])}] " if path[:-1] else ""
        return self.fail(
            path, f"{table}{path[-1]} = {shown(value)} is not valid; expected {expected}"
        )

    def settings(
        self, path: tuple[str, ...], table: Any, base: RuleSettings, nested: bool
    ) -> RuleSettings:
        if not isinstance(table, dict):
            raise self.fail(path, f"{dotted(path)} is not a table; expected [{dotted(path)}]")
        keys = KEYS[path[1]]
        known = [*keys, FUNCTIONS] if nested else list(keys)
        values: dict[str, Any] = {}
        for key, value in table.items():
            if key == FUNCTIONS and nested:
                continue
            if key not in keys:
                raise self.unknown((*path, key), "key", known)
            checked = keys[key].check(value)
            if checked is None:
                raise self.bad((*path, key), value, keys[key].expected)
            values[key] = checked
        settings = replace(base, **values)
        if isinstance(settings, Failing) and settings.first_runs > settings.runs:
            key = "first_runs" if "first_runs" in values else "runs"
            raise self.bad(
                (*path, key),
                values.get(key, getattr(settings, key)),
                f"first_runs ({settings.first_runs}) at most runs ({settings.runs})",
            )
        return settings


def defaults(rules: Rules, rule: str) -> RuleSettings:
    settings: dict[str, RuleSettings] = {
        FUNCTION_FAILING: rules.failing,
        QUEUE_LATE: rules.queue_late,
        APP_UNREACHABLE: rules.app_unreachable,
        RUN_NO_PROGRESS: rules.no_progress,
        EVENTS_NO_RUNS: rules.no_runs,
    }
    return settings[rule]


def with_settings(rules: Rules, rule: str, settings: RuleSettings) -> Rules:
    if isinstance(settings, Failing):
        return replace(rules, failing=settings)
    if isinstance(settings, NoRuns):
        return replace(rules, no_runs=settings)
    if rule == QUEUE_LATE:
        return replace(rules, queue_late=settings)
    if rule == APP_UNREACHABLE:
        return replace(rules, app_unreachable=settings)
    return replace(rules, no_progress=settings)


def shown(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace('"', '\\"') + '"'
    if isinstance(value, dict):
        return "{...}"
    return repr(value)


_BARE = re.compile(r"[A-Za-z0-9_-]+")


def dotted(path: Sequence[str]) -> str:
    """A key path as TOML writes it: ``rules."function.failing"``."""
    return ".".join(part if _BARE.fullmatch(part) else f'"{part}"' for part in path)


def key_path(text: str) -> tuple[tuple[str, ...], str] | None:
    """The dotted key at the start of ``text`` and what follows it (None: no key)."""
    parts: list[str] = []
    rest = text.lstrip()
    while True:
        if rest.startswith('"'):
            end = rest.find('"', 1)
            while end > 0 and rest[end - 1] == "\\":
                end = rest.find('"', end + 1)
            if end < 0:
                return None
            parts.append(rest[1:end].encode().decode("unicode_escape"))
            rest = rest[end + 1 :]
        elif rest.startswith("'"):
            end = rest.find("'", 1)
            if end < 0:
                return None
            parts.append(rest[1:end])
            rest = rest[end + 1 :]
        else:
            bare = _BARE.match(rest)
            if bare is None:
                return None
            parts.append(bare.group())
            rest = rest[bare.end() :]
        rest = rest.lstrip()
        if not rest.startswith("."):
            return tuple(parts), rest
        rest = rest[1:].lstrip()


def locate(lines: Sequence[str], path: tuple[str, ...]) -> int | None:
    """The line (from 1) that defines ``path``: its ``key = value`` or its ``[table]``
    header; failing that, the header of the nearest table around it."""
    table: tuple[str, ...] = ()
    best: tuple[int, int] | None = None
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped.startswith("["):
            found = key_path(stripped.strip("[]").strip())
            if found is None:
                continue
            table = found[0]
            if table[: len(path)] == path:
                return number
            depth = len(table) if path[: len(table)] == table else -1
            if depth >= 0 and (best is None or depth > best[0]):
                best = (depth, number)
            continue
        found = key_path(stripped)
        if found is None or not found[1].startswith("="):
            continue
        full = table + found[0]
        if full == path:
            return number
        if path[: len(full)] == full or full[: len(path)] == path:
            depth = len(path) if full[: len(path)] == path else len(full)
            if best is None or depth > best[0]:
                best = (depth, number)
    return best[1] if best is not None else None
