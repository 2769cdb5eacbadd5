"""``inlet send``: an event from a shell script or a cron job, through the event API.

Events go to ``POST /e/{event key}`` and nowhere else: an app's serve endpoint
(``/api/inngest``) only takes calls from the server, signed, which is why a script that
posts there is told ``No x-inngest-signature provided``.
"""

from __future__ import annotations

import hashlib
import json
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote

import click

TIMEOUT = 30.0


def event_body(name: str, data: str | None, event_id: str | None, ts: int | None) -> dict[str, Any]:
    """The event as the event API takes it; ``data`` is a JSON object's text."""
    if not name.strip():
        raise click.BadParameter(
            "an event needs a name such as app/user.created", param_hint="NAME"
        )
    payload: Any = {}
    if data is not None:
        try:
            payload = json.loads(data)
        except json.JSONDecodeError as exc:
            raise click.BadParameter(
                f"{data!r} is not JSON ({exc.msg} at {exc.pos}); expected an object such as "
                """'{"id": 1}'""",
                param_hint="--data",
            ) from None
        if not isinstance(payload, dict):
            raise click.BadParameter(
                f"{data!r} is a JSON {type(payload).__name__}; expected an object such as "
                """'{"id": 1}'""",
                param_hint="--data",
            )
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
    url = f"{base_url.rstrip('/')}/e/{quote(key, safe='')}"
    request = urllib.request.Request(
        url,
        data=json.dumps([body]).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as resp:
            answer = json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")[:500]
        if exc.code == 401:
            raise click.ClickException(
                f"{base_url} rejected the event key ({key_hint(key)}): pass one of the server's "
                "event keys with --event-key or INLET_EVENT_KEY"
            ) from None
        raise click.ClickException(f"{base_url}: HTTP {exc.code}: {detail}") from None
    except urllib.error.URLError as exc:
        raise click.ClickException(
            f"cannot reach {base_url}: {exc.reason}; is inlet running there? (--url)"
        ) from None
    ids = answer.get("ids") if isinstance(answer, dict) else None
    return [str(i) for i in ids] if isinstance(ids, list) else []
