"""The doctor's probe of one app: its introspection ``GET``, signed with the server's key as
a call is, answered within a few seconds. What came back is handed to ``apps.app_checks``.
"""

from __future__ import annotations

import email.utils
from collections.abc import Callable
from typing import Any

import aiohttp

from inlet.doctor.apps import AppProbe
from inlet.protocol.signing import sign
from inlet.sync.register import app_url

PROBE_TIMEOUT = 10.0
MAX_ANSWER = 1024 * 1024
"""An introspection answer is a few hundred bytes; more is not read."""


async def probe_app(
    session: aiohttp.ClientSession,
    url: str,
    *,
    server_kind: str,
    signing_key: str | None,
    now: Callable[[], float],
    app_id: str = "",
    last_sync_error: str | None = None,
) -> AppProbe:
    """``GET url`` as the server: its kind in ``X-Inngest-Server-Kind`` and, with a signing
    key, a signature over the empty body. Never raises for what the app does."""
    shown = app_url(url)
    headers = {"X-Inngest-Server-Kind": server_kind}
    sent_at = now()
    if signing_key:
        headers["X-Inngest-Signature"] = sign(b"", signing_key, sent_at)

    def made(**fields: Any) -> AppProbe:
        return AppProbe(
            url=shown, app_id=app_id, last_sync_error=last_sync_error, sent_at=sent_at, **fields
        )

    try:
        async with session.get(
            url,
            headers=headers,
            allow_redirects=False,
            timeout=aiohttp.ClientTimeout(total=PROBE_TIMEOUT),
        ) as resp:
            body = await resp.content.read(MAX_ANSWER)
            received_at = now()
            answer_headers = {k.lower(): v for k, v in resp.headers.items()}
            return made(
                received_at=received_at,
                status=resp.status,
                headers=answer_headers,
                body=body,
                app_time=app_time(answer_headers),
            )
    except TimeoutError:
        error = f"no answer within {PROBE_TIMEOUT:.0f}s"
    except aiohttp.ClientConnectorError as exc:
        error = f"unreachable: {exc.os_error}"
    except (aiohttp.ClientError, OSError) as exc:
        error = f"{type(exc).__name__}: {exc}"
    return made(received_at=now(), error=error)


def app_time(headers: dict[str, str]) -> float | None:
    """The app's clock when it answered: the ``t`` of its signature (the SDK's own clock),
    else its ``Date`` header (whoever answered, to the second)."""
    signature = headers.get("x-inngest-signature", "")
    for part in signature.split("&"):
        name, _, value = part.partition("=")
        if name == "t" and value.isdigit():
            return float(value)
    date = headers.get("date")
    if date:
        try:
            return email.utils.parsedate_to_datetime(date).timestamp()
        except (TypeError, ValueError):
            return None
    return None
