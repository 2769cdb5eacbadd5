"""``inlet send``: an event from a shell script or a cron job, through the event API.

Events go to ``POST /e/{event key}`` and nowhere else: an app's serve endpoint
(``/api/inngest``) only takes calls from the server, signed, which is why a script that
posts there is told ``No x-inngest-signature provided``.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

import click

from inlet.cli.client import Api, ApiError, segment
from inlet.cli.options import server_url


@click.command("send")
@click.argument("name")
@click.option("--data", default=None, help="The event's data, a JSON object.")
@click.option("--id", "event_id", default=None, help="A dedupe id: a repeat starts nothing.")
@click.option("--ts", type=int, default=None, help="Milliseconds since the epoch (default now).")
@click.option(
    "--event-key",
    default="dev",
    show_default=True,
    envvar="INLET_EVENT_KEY",
    show_envvar=True,
    help="One of the server's event keys (inlet dev takes any).",
)
@server_url
def send_event(
    name: str, data: str | None, event_id: str | None, ts: int | None, event_key: str, url: str
) -> None:
    """Send event NAME to a running server's event API, as a script or cron job would;
    prints its id."""
    # INLET_EVENT_KEY may list the server's keys (space-separated): any one of them will do.
    key = next(iter(event_key.split()), event_key)
    for stored in send(url, key, event_body(name, data, event_id, ts)):
        click.echo(stored)


def json_object(data: str, flag: str) -> dict[str, Any]:
    """``data``, the text of a JSON object given as ``flag``."""
    try:
        payload = json.loads(data)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(
            f"{data!r} is not JSON ({exc.msg} at {exc.pos}); expected an object such as "
            """'{"id": 1}'""",
            param_hint=flag,
        ) from None
    if not isinstance(payload, dict):
        raise click.BadParameter(
            f"{data!r} is a JSON {type(payload).__name__}; expected an object such as "
            """'{"id": 1}'""",
            param_hint=flag,
        )
    return payload


def event_body(name: str, data: str | None, event_id: str | None, ts: int | None) -> dict[str, Any]:
    """The event as the event API takes it; ``data`` is a JSON object's text."""
    if not name.strip():
        raise click.BadParameter(
            "an event needs a name such as app/user.created", param_hint="NAME"
        )
    payload = json_object(data, "--data") if data is not None else {}
    body: dict[str, Any] = {"name": name, "data": payload}
    if event_id:
        body["id"] = event_id
    body["ts"] = ts if ts is not None else int(time.time() * 1000)
    return body


def key_hint(key: str) -> str:
    """An event key as it may be shown: a hash of it, never the key."""
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()[:12]


def send(base_url: str, key: str, body: dict[str, Any]) -> list[str]:
    """POST the event; its stored ids. Raises ClickException with what went wrong."""
    try:
        answer = Api(base_url).raw("POST", f"/e/{segment(key)}", body=[body])
    except ApiError as exc:
        if exc.status == 401:
            raise click.ClickException(
                f"{base_url} rejected the event key ({key_hint(key)}): pass one of the server's "
                "event keys with --event-key or INLET_EVENT_KEY"
            ) from None
        raise click.ClickException(f"{base_url}: HTTP {exc.status}: {exc.message}") from None
    ids = answer.get("ids")
    return [str(i) for i in ids] if isinstance(ids, list) else []
