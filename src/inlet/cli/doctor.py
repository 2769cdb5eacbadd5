"""``inlet doctor``: a preflight of a running server and its apps, for before and after a
deploy. The server checks what only it can see (``GET /v1/doctor``); this side adds what
a client sees: the server answering, and whether its API answers without a token.

Exit codes: 0 when nothing failed (warnings allowed), 1 when a check failed, 2 for bad
flags; ``--json`` prints every check for scripts.
"""

from __future__ import annotations

import ipaddress
import sys
from typing import Any
from urllib.parse import urlsplit

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from inlet.cli.client import TOKEN_HINT, Api, ApiError
from inlet.cli.options import echo_json, json_output, with_api

DOCTOR_TIMEOUT = 60.0
"""Seconds the server may take: it probes every app (10 s each at most, in parallel)."""
STYLES = {"pass": "green", "warn": "yellow", "fail": "bold red"}


def _check(id_: str, verdict: str, detail: str, fix: str = "") -> dict[str, Any]:
    return {"id": id_, "verdict": verdict, "detail": detail, "fix": fix, "subject": ""}


@click.command()
@json_output
@with_api
def doctor(api: Api, as_json: bool) -> None:
    """Check a running server and its apps: each app reachable from the server, in the
    server's mode, holding its signing key and an event key, with a close clock; every
    stored expression compiling; the database reachable and its schema current; risky
    settings. Prints pass / warn / fail and the fix for each; exits 1 if one failed."""
    checks, report = _gather(api)
    ok = not any(c["verdict"] == "fail" for c in checks)
    if as_json:
        echo_json({**report, "ok": ok, "checks": checks})
    else:
        _print(checks, report)
    if not ok:
        sys.exit(1)


def _gather(api: Api) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    report: dict[str, Any] = {"url": api.url, "profile": None, "version": None}
    try:
        api.raw("GET", "/health")
    except click.ClickException as exc:
        fix = "start inlet there, or pass its URL with --url (INLET_URL)"
        return [_check("server", "fail", exc.message.split(";")[0], fix)], report
    checks = [_check("server", "pass", f"{api.url} answers /health")]
    slow = Api(api.url, api.token, timeout=DOCTOR_TIMEOUT)
    try:
        found = slow.get("/v1/doctor")
    except ApiError as exc:
        checks.append(_refused(exc))
        found = None
    if isinstance(found, dict):
        report.update(profile=found.get("profile"), version=found.get("version"))
        checks.extend(found.get("checks") or [])
    checks.append(_open_api(api, report["profile"]))
    return checks, report


def _refused(exc: ApiError) -> dict[str, Any]:
    message = str(exc.answer.get("error") or f"HTTP {exc.status}")
    if exc.status == 401:
        return _check("server.token", "fail", f"GET /v1/doctor: {message}", TOKEN_HINT)
    if exc.status == 404:
        return _check(
            "server.version",
            "fail",
            "the server has no GET /v1/doctor: it runs an older inlet",
            "upgrade the server to this version of inlet",
        )
    return _check("server.doctor", "fail", f"GET /v1/doctor answered: {message}", "see its logs")


def _open_api(api: Api, profile: str | None) -> dict[str, Any]:
    """Whether the API (and so the dashboard's data) answers a request without a token."""
    try:
        Api(api.url).raw("GET", "/v1/runs", {"limit": 1})
    except ApiError as exc:
        if exc.status == 401:
            return _check("api.token", "pass", "the API refuses requests without a token")
        return _check("api.token", "warn", f"GET /v1/runs without a token: HTTP {exc.status}")
    except click.ClickException as exc:
        return _check("api.token", "warn", exc.message)
    if profile == "dev":
        if _loopback(api.url):
            return _check("api.token", "pass", "inlet dev answers without a token, by design")
        return _check(
            "api.token",
            "warn",
            f"the dashboard and API at {api.url} are reachable without a token (inlet dev)",
            "keep inlet dev on 127.0.0.1, or run inlet start, which asks for a token",
        )
    return _check(
        "api.token",
        "warn",
        f"the dashboard and API at {api.url} are reachable without a token",
        "run inlet start, and check that no proxy in front of it adds credentials",
    )


def _loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _print(checks: list[dict[str, Any]], report: dict[str, Any]) -> None:
    console = Console()
    if report["profile"]:
        console.print(
            f"inlet {report['version']} ({report['profile']}) at {report['url']}", highlight=False
        )
    table = Table("", "check", "about", "found", "fix")
    for check in checks:
        verdict = check["verdict"]
        table.add_row(
            Text(verdict.upper(), style=STYLES.get(verdict, "")),
            check["id"],
            check.get("subject") or "",
            check["detail"],
            check.get("fix") or "",
        )
    console.print(table)
    counts = {v: sum(c["verdict"] == v for c in checks) for v in ("pass", "warn", "fail")}
    console.print(
        f"{counts['pass']} passed, {counts['warn']} warning(s), {counts['fail']} failed",
        highlight=False,
    )
