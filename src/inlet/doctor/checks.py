"""The verdicts of ``inlet doctor``: each check passes, warns or fails, says what it saw and,
unless it passed, how to fix it. Pure: evaluators over the facts handed to them.

A failure means something is broken now or will break on the next deploy (an app the
server cannot call, a schema inlet cannot use); a warning is a risk to look at.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from inlet.errors import FunctionConfigInvalid, InvalidValue
from inlet.expr import compile_expression
from inlet.flow.spec import FunctionSpec
from inlet.model import Function

Verdict = Literal["pass", "warn", "fail"]


@dataclass(frozen=True, slots=True)
class Check:
    """One verdict: ``id`` is stable (``app.signing_key``), ``subject`` what it is about
    (an app's URL, a function's id; empty for the server itself)."""

    id: str
    verdict: Verdict
    detail: str
    fix: str = ""
    subject: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def failed(checks: Iterable[Check]) -> bool:
    return any(c.verdict == "fail" for c in checks)


@dataclass(frozen=True, slots=True)
class DatabaseStatus:
    """What reading the database's schema version found: ``version`` None when it could
    not be read (``error`` says why)."""

    dialect: Literal["sqlite", "postgresql", "memory"]
    shown: str
    """The database as it may be shown (no password)."""
    latest: int = 0
    version: int | None = None
    error: str | None = None


def database_check(status: DatabaseStatus) -> Check:
    if status.dialect == "memory":
        return Check(
            "database",
            "warn",
            "the store is in memory: nothing survives a restart",
            "use --database-url sqlite:///PATH or postgresql://... outside tests",
        )
    if status.version is None:
        return Check(
            "database",
            "fail",
            f"the server cannot read {status.shown}: {status.error}",
            "check that the database is up and reachable from the server, and its "
            "--database-url (INLET_DATABASE_URL)",
        )
    if status.version < status.latest:
        if status.dialect == "postgresql":
            fix = f"run `inlet migrate --database-url {status.shown}`, then restart inlet"
        else:
            fix = (
                "stop inlet and start it again: it migrates an SQLite file when it opens it "
                "(back the file up first)"
            )
        return Check(
            "database",
            "fail",
            f"{status.shown} has schema version {status.version}; this inlet needs {status.latest}",
            fix,
        )
    if status.version > status.latest:
        return Check(
            "database",
            "fail",
            f"{status.shown} has schema version {status.version}, newer than this inlet "
            f"({status.latest}): a newer inlet migrated it",
            "upgrade this inlet to the version that migrated the database",
        )
    return Check(
        "database", "pass", f"{status.shown} reachable, schema version {status.version} (current)"
    )


def settings_checks(
    profile: str,
    event_keys: int,
    fallback_key: bool,
    retention: Any,
    exposure: str | None,
) -> list[Check]:
    """The server's own settings: event keys, the key being rotated out, retention, and
    (``exposure``) what ``inlet dev`` bound beyond loopback risks."""
    found: list[Check] = []
    if profile == "start":
        if event_keys:
            found.append(Check("event_keys", "pass", f"{event_keys} event key(s) configured"))
        else:
            found.append(
                Check(
                    "event_keys",
                    "fail",
                    "no event key is configured: every POST /e/{key} gets 401",
                    "start inlet with --event-key-file FILE (INLET_EVENT_KEY_FILE)",
                )
            )
        if fallback_key:
            found.append(
                Check(
                    "signing_key_fallback",
                    "warn",
                    "a fallback signing key is still accepted from apps",
                    "once every app holds the new key, restart inlet without "
                    "--signing-key-fallback (INLET_SIGNING_KEY_FALLBACK)",
                )
            )
    else:
        found.append(Check("event_keys", "pass", "inlet dev takes events under any key"))
    if not retention:
        found.append(
            Check(
                "retention",
                "warn",
                "no retention: the database grows forever (events, runs and step outputs "
                "are never deleted)",
                "start inlet with --retention DURATION (INLET_RETENTION), such as 30d",
            )
        )
    if exposure:
        found.append(
            Check(
                "dev_host",
                "warn",
                exposure,
                "restart inlet dev with --host 127.0.0.1, or run inlet start with keys and tokens",
            )
        )
    return found


def expression_checks(functions: Sequence[Function]) -> list[Check]:
    """Every stored function's expressions compile: its triggers', and those its config
    holds (cancelOn ``if``, flow-control keys), as the server parses them at run time.

    A function stored by an older inlet, or by another process, may hold what registration
    now refuses; the server then runs it without flow control, cancelOn and timeouts."""
    found = []
    compiled = 0
    for fn in sorted(functions, key=lambda f: f.slug):
        problem = _function_problem(fn)
        if problem is None:
            compiled += 1
            continue
        field, message, effect = problem
        found.append(
            Check(
                "expressions",
                "fail",
                f"{message} (app {fn.app_url}); {effect}",
                f"fix {field} in {fn.slug!r} in the app's code, deploy it and sync the app "
                f"(inlet apps sync {fn.app_url})",
                subject=fn.slug,
            )
        )
    if not found:
        found.append(
            Check("expressions", "pass", f"the expressions of {compiled} function(s) compile")
        )
    return found


def _function_problem(fn: Function) -> tuple[str, str, str] | None:
    for i, trigger in enumerate(fn.triggers):
        if not trigger.expression:
            continue
        try:
            compile_expression(trigger.expression)
        except InvalidValue as exc:
            field = f"triggers[{i}].expression"
            return (
                field,
                f"function {fn.slug!r}: {field} {_first_line(exc.message)}",
                "the server cannot load its functions while it is stored",
            )
    try:
        FunctionSpec.parse(fn.config)
    except FunctionConfigInvalid as exc:
        return (
            exc.field or "config",
            _first_line(exc.message),
            "until fixed its runs start without flow control, cancelOn and timeouts",
        )
    return None


def _first_line(message: str) -> str:
    return message.splitlines()[0] if message else message
