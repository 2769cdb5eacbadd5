"""Webhook bodies and the POST that delivers them.

A target is a URL. One on ``hooks.slack.com``, or written ``slack+https://...``, gets
Slack's incoming-webhook format (``text`` and ``blocks``); any other gets the generic
JSON body. Delivery is at least once: a crash between a 2xx and recording it sends that
delivery again, so each carries its stable id, as ``Idempotency-Key`` and in the body,
for receivers to drop a repeat.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import urlsplit

import httpx
import orjson

from inlet.model import JSON
from inlet.store.alerts import Delivery

SLACK_PREFIX: Final = "slack+"
SLACK_HOST: Final = "hooks.slack.com"
BACKOFF: Final = (5.0, 30.0, 120.0, 600.0)
"""Seconds before the next attempt after the first, second, third... failure (the last
one repeats: a delivery is retried until it succeeds)."""


def backoff(attempts: int) -> float:
    """The wait after ``attempts`` failed attempts (1 or more)."""
    return BACKOFF[min(max(attempts, 1), len(BACKOFF)) - 1]


def is_slack(target: str) -> bool:
    return target.startswith(SLACK_PREFIX) or (urlsplit(target).hostname or "") == SLACK_HOST


def url_of(target: str) -> str:
    return target.removeprefix(SLACK_PREFIX)


def shown(target: str) -> str:
    """A target as the dashboard and the API show it: the kind and the host, never the
    path or query, where webhook URLs keep their secret (Slack's do)."""
    parts = urlsplit(url_of(target))
    host = parts.hostname or "?"
    where = f"{host}:{parts.port}" if parts.port else host
    hidden = "/…" if parts.path.strip("/") or parts.query else ""
    return f"{'Slack' if is_slack(target) else 'webhook'} {parts.scheme}://{where}{hidden}"


def state_of(delivery: Delivery) -> str:
    return "firing" if delivery.kind == "fired" else "resolved"


def generic_body(delivery: Delivery) -> dict[str, JSON]:
    alert = delivery.alert
    return {
        "id": delivery.id,
        "state": state_of(delivery),
        "text": text_of(delivery),
        "alert": {
            "id": alert.id,
            "rule": alert.rule,
            "subject": alert.subject,
            "fired_at": alert.fired_at,
            "resolved_at": alert.resolved_at,
            **dict(alert.summary),
        },
    }


def text_of(delivery: Delivery) -> str:
    summary = delivery.alert.summary
    message = str(summary.get("message") or f"{delivery.alert.rule} {delivery.alert.subject}")
    if delivery.kind == "resolved":
        return f"Resolved: {message}"
    return f"Firing: {message}"


def slack_body(delivery: Delivery) -> dict[str, JSON]:
    summary = delivery.alert.summary
    fields = [
        f"*{label}*\n{summary[key]}"
        for label, key in (("Function", "function"), ("App", "app"), ("Error", "error"))
        if summary.get(key)
    ]
    blocks: list[JSON] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": text_of(delivery)}}
    ]
    if fields:
        blocks.append(
            {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]}
        )
    if summary.get("run_url"):
        link = f"<{summary['run_url']}|Open the run>"
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": link}]})
    return {"text": text_of(delivery), "blocks": blocks}


async def post(client: httpx.AsyncClient, delivery: Delivery) -> str | None:
    """POST ``delivery`` to its target: None on a 2xx, otherwise why it failed."""
    body = slack_body(delivery) if is_slack(delivery.target) else generic_body(delivery)
    headers = {"Content-Type": "application/json", "Idempotency-Key": delivery.id}
    try:
        response = await client.post(
            url_of(delivery.target), content=orjson.dumps(body), headers=headers
        )
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if 200 <= response.status_code < 300:
        return None
    return f"HTTP {response.status_code}: {response.text[:200]}"
