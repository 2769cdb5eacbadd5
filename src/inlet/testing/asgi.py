"""The executor's transport to an ASGI app in this process (``create_app(transport=)``).

A call request becomes one ASGI ``http`` request and the response a ``Reply``, with no
socket and no HTTP client in between, so a test's fake app answers within the same event
loop and a settle sees the call as in flight until it has been recorded.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from inlet.steps.machine import Reply

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class ASGITransport:
    """Delivers the executor's call requests to ASGI apps in this process.

    ``apps`` maps an origin (``http://host:port``) to its app; a single app takes every
    call. An app that raises gives a ``Reply`` with ``error`` set, as a dropped connection
    would, so the run retries and its history shows the exception.
    """

    def __init__(self, apps: ASGIApp | Mapping[str, ASGIApp]) -> None:
        self._apps: Mapping[str, ASGIApp] = apps if isinstance(apps, Mapping) else {"": apps}

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> Reply:
        parts = urlsplit(url)
        app = self._apps.get(f"{parts.scheme}://{parts.netloc}") or self._apps.get("")
        if app is None:
            return Reply(status=0, error=f"no app in this test serves {url}")
        try:
            status, got, content = await asgi_post(app, url, body, headers)
        except Exception as exc:
            return Reply(status=0, error=f"the app raised {type(exc).__name__}: {exc}")
        return Reply(status=status, headers=got, body=content)


async def asgi_post(
    app: ASGIApp, url: str, body: bytes, headers: Mapping[str, str]
) -> tuple[int, dict[str, str], bytes]:
    """One POST to an ASGI app: (status, lower-cased headers, body)."""
    parts = urlsplit(url)
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": parts.scheme or "http",
        "path": parts.path or "/",
        "raw_path": (parts.path or "/").encode(),
        "query_string": parts.query.encode(),
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "server": (parts.hostname or "app.test", parts.port or 80),
        "client": ("127.0.0.1", 0),
    }
    request = [{"type": "http.request", "body": body, "more_body": False}]
    status = 0
    got: dict[str, str] = {}
    chunks: list[bytes] = []

    async def receive() -> Message:
        return request.pop() if request else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])
            for name, value in message.get("headers", []):
                got[bytes(name).decode().lower()] = bytes(value).decode()
        elif message["type"] == "http.response.body":
            chunks.append(bytes(message.get("body", b"")))

    await app(scope, receive, send)
    return status, got, b"".join(chunks)
