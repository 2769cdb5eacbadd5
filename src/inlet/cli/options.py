"""The options the CLI's commands share: a server's, and a client's of a running server."""

from __future__ import annotations

import functools
import json
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import click

from inlet.cli.client import Api
from inlet.config import DEFAULT_DATABASE_URL, DEFAULT_PORT, DEFAULT_REQUEST_HEADER_TIMEOUT

server_url = click.option(
    "--url",
    default=f"http://127.0.0.1:{DEFAULT_PORT}",
    show_default=True,
    envvar="INLET_URL",
    show_envvar=True,
    help="The server's base URL.",
)
"""The ``--url`` of the commands that talk to a running server."""


api_token = click.option(
    "--token",
    envvar="INLET_TOKEN",
    show_envvar=True,
    help="An API token (inlet start; `inlet tokens create`).",
)
"""The ``--token`` of the commands that talk to a running server (``inlet start``
asks for one on every API route)."""


def with_api(command: Callable[..., None]) -> Callable[..., None]:
    """``--url`` and ``--token``, given to ``command`` as ``api``: a client of the server."""

    @functools.wraps(command)
    def wrapper(*args: Any, url: str, token: str | None, **kwargs: Any) -> None:
        command(*args, api=Api(url, token), **kwargs)

    return server_url(api_token(wrapper))


json_output = click.option(
    "--json", "as_json", is_flag=True, help="Print the server's answer as JSON instead."
)
"""``--json`` on the commands that list or show: machine output for scripts."""


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=True))


_RELATIVE = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class When(click.ParamType[str]):
    """A time as ``2h``/``30m``/``1d`` ago, or RFC 3339; converted to RFC 3339 in UTC."""

    name = "time"
    EXAMPLES = (
        "expected a time ago such as 30m, 2h, 1d, 1w, or RFC 3339 such as 2026-11-22T18:00:00Z"
    )

    def __init__(self, now: Callable[[], float] = time.time) -> None:
        self._now = now

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        raw = str(value).strip()
        if match := _RELATIVE.fullmatch(raw):
            at = self._now() - float(match[1]) * _UNITS[match[2]]
            return _rfc3339(datetime.fromtimestamp(at, UTC))
        try:
            parsed = datetime.fromisoformat(raw.replace("z", "Z").replace("Z", "+00:00"))
        except ValueError:
            self.fail(f"{value!r} is not a time; {self.EXAMPLES}", param, ctx)
        if parsed.tzinfo is None:
            self.fail(f"{value!r} has no UTC offset (add Z or +HH:MM); {self.EXAMPLES}", param, ctx)
        return _rfc3339(parsed.astimezone(UTC))


def _rfc3339(at: datetime) -> str:
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


since_option = click.option(
    "--since", type=When(), help="Created at or after: 30m, 2h, 1d (ago) or RFC 3339."
)
until_option = click.option(
    "--until", type=When(), help="Created before: 30m, 2h, 1d (ago) or RFC 3339."
)


class Duration(click.ParamType[float]):
    """A length of time as ``30s``, ``15m``, ``12h``, ``7d``, ``2w`` or plain seconds;
    ``off`` is 0 (for ever)."""

    name = "duration"
    EXAMPLES = "expected a duration such as 30s, 15m, 12h, 7d, 2w, seconds, or off"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, float | int):
            return float(value)
        raw = str(value).strip().lower()
        if raw in ("off", "0"):
            return 0.0
        if match := _RELATIVE.fullmatch(raw):
            return float(match[1]) * _UNITS[match[2]]
        try:
            seconds = float(raw)
        except ValueError:
            self.fail(f"{value!r} is not a duration; {self.EXAMPLES}", param, ctx)
        if seconds < 0:
            self.fail(f"{value!r} is negative; {self.EXAMPLES}", param, ctx)
        return seconds


class FunctionDuration(click.ParamType[tuple[str, float]]):
    """``FUNCTION=DURATION``: a function's slug and a :class:`Duration`."""

    name = "function=duration"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> tuple[str, float]:
        if isinstance(value, tuple):
            return value
        slug, sep, duration = str(value).rpartition("=")
        if not sep or not slug.strip():
            self.fail(
                f"{value!r} is not FUNCTION=DURATION; expected e.g. my-app-cleanup=12h "
                "(the function's slug as inlet functions ls shows it)",
                param,
                ctx,
            )
        return slug.strip(), Duration().convert(duration, param, ctx)


def server_options(command: Callable[..., None]) -> Callable[..., None]:
    """The options ``inlet dev`` and ``inlet start`` share."""
    for option in reversed(_SERVER_OPTIONS):
        command = option(command)
    return command


_SERVER_OPTIONS = [
    click.option(
        "--host",
        default="127.0.0.1",
        show_default=True,
        envvar="INLET_HOST",
        show_envvar=True,
        help="Interface to listen on.",
    ),
    click.option(
        "--port",
        "-p",
        default=DEFAULT_PORT,
        show_default=True,
        type=int,
        envvar="INLET_PORT",
        show_envvar=True,
        help="Port to listen on.",
    ),
    click.option(
        "--database-url",
        default=DEFAULT_DATABASE_URL,
        show_default=True,
        envvar="INLET_DATABASE_URL",
        show_envvar=True,
        help="sqlite:///PATH (embedded) or postgresql://...",
    ),
    click.option(
        "--sdk-url",
        "-u",
        multiple=True,
        envvar="INLET_SDK_URL",
        show_envvar=True,
        help="An app's serve URL to sync (repeatable; env: space-separated).",
    ),
    click.option(
        "--app-host",
        multiple=True,
        envvar="INLET_APP_HOST",
        show_envvar=True,
        help="Only sync, register and call apps on this host (repeatable; env: "
        "space-separated) [default: any host].",
    ),
    click.option(
        "--no-discovery",
        is_flag=True,
        envvar="INLET_NO_DISCOVERY",
        show_envvar=True,
        help="Do not scan local ports for apps.",
    ),
    click.option(
        "--poll-interval",
        default=5.0,
        show_default=True,
        type=float,
        envvar="INLET_POLL_INTERVAL",
        show_envvar=True,
        help="Seconds between re-syncs of apps in error.",
    ),
    click.option(
        "--retry-interval",
        default=None,
        type=float,
        envvar="INLET_RETRY_INTERVAL",
        show_envvar=True,
        help="Fixed retry delay in seconds instead of the backoff table.",
    ),
    click.option(
        "--use-api-threshold",
        default=None,
        type=int,
        envvar="INLET_USE_API_THRESHOLD",
        show_envvar=True,
        help="Bytes of events+steps above which apps fetch run state over the API "
        "[default: 4 MiB].",
    ),
    click.option(
        "--max-event-size",
        default=None,
        type=click.IntRange(min=1),
        envvar="INLET_MAX_EVENT_SIZE",
        show_envvar=True,
        help="Largest accepted event in bytes "
        "[default: 512 KiB; Inngest's dev server takes 3 MiB].",
    ),
    click.option(
        "--concurrency",
        default=128,
        show_default=True,
        type=int,
        envvar="INLET_CONCURRENCY",
        show_envvar=True,
        help="Call requests in flight at once.",
    ),
    click.option(
        "--request-header-timeout",
        default=DEFAULT_REQUEST_HEADER_TIMEOUT,
        show_default=True,
        type=click.FloatRange(min=0, min_open=True),
        envvar="INLET_REQUEST_HEADER_TIMEOUT",
        show_envvar=True,
        help="Seconds a connection has to send a request's line and headers before it is "
        "closed (slow or silent clients).",
    ),
    click.option(
        "--stuck-after",
        default=300.0,
        show_default=True,
        type=click.FloatRange(min=1),
        envvar="INLET_STUCK_AFTER",
        show_envvar=True,
        help="Seconds a run must exist before the reaper treats it as stuck (no queued work "
        "and no wait left): revived, then cancelled if it stays stuck.",
    ),
    click.option(
        "--bulk-pace",
        default=0.0,
        show_default=True,
        type=click.FloatRange(min=0),
        envvar="INLET_BULK_PACE",
        show_envvar=True,
        help="Seconds a bulk replay or cancel waits between two pages of 100 runs, to spread "
        "a large replay over time.",
    ),
    click.option(
        "--retention",
        default="7d",
        show_default=True,
        type=Duration(),
        envvar="INLET_RETENTION",
        show_envvar=True,
        help="How long finished runs, their step history and their events are kept: 30m, "
        "12h, 7d, 2w, or off (for ever). Runs in flight are never deleted.",
    ),
    click.option(
        "--retention-for",
        multiple=True,
        type=FunctionDuration(),
        envvar="INLET_RETENTION_FOR",
        show_envvar=True,
        help="A function's own retention, FUNCTION=DURATION (repeatable; env: "
        "space-separated), e.g. my-app-nightly=30d or my-app-ping=1h.",
    ),
    click.option(
        "--alert-webhook",
        multiple=True,
        envvar="INLET_ALERT_WEBHOOK",
        show_envvar=True,
        help="POST alerts (a function failing, the queue late, an app unreachable, a run "
        "stalled, events starting no run) to this URL (repeatable; env: space-separated). "
        "hooks.slack.com URLs, or any URL prefixed "
        "slack+, get Slack's format; others a JSON body.",
    ),
    click.option(
        "--alert-rules",
        envvar="INLET_ALERT_RULES",
        show_envvar=True,
        help="A TOML file that tunes or turns off the alert rules (docs/alerts.md); checked "
        "at start-up. Without it, the defaults.",
    ),
    click.option(
        "--alert-interval",
        type=Duration(),
        envvar="INLET_ALERT_INTERVAL",
        show_envvar=True,
        help="How often the alert rules are evaluated, e.g. 10s or 1m (default: the rules "
        "file's interval, or 10s).",
    ),
    click.option(
        "--log-level",
        default="info",
        show_default=True,
        envvar="INLET_LOG_LEVEL",
        show_envvar=True,
        type=click.Choice(["debug", "info", "warning", "error"]),
    ),
    click.option(
        "--log-format",
        default="text",
        show_default=True,
        envvar="INLET_LOG_FORMAT",
        show_envvar=True,
        type=click.Choice(["text", "json"]),
    ),
]
