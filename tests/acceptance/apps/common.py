"""Side-effect journal shared by the acceptance apps and the tests.

Each app appends one JSON line per observable effect (a step body ran, a handler
received an event) to the file named by ``ACCEPT_RECORD_FILE``. Appends with
``O_APPEND`` and a single ``write`` keep concurrent lines whole.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

RECORD_FILE_ENV = "ACCEPT_RECORD_FILE"
# How long the retry-after function asks the server to wait before its second attempt.
RETRY_AFTER_SECONDS = 1.5


def record(kind: str, **fields: Any) -> None:
    line = json.dumps({"kind": kind, "t": time.time(), "pid": os.getpid(), **fields}) + "\n"
    fd = os.open(os.environ[RECORD_FILE_ENV], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def read_records(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def count(kind: str, **match: Any) -> int:
    """How many records of ``kind`` with the given field values exist so far."""
    return sum(
        1
        for rec in read_records(os.environ[RECORD_FILE_ENV])
        if rec["kind"] == kind and all(rec.get(k) == v for k, v in match.items())
    )


class CallRecorder:
    """ASGI middleware journaling every call request (POST) the app receives.

    Tests compare it with the server's history and check the ``use_api`` flag.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        query = parse_qs(scope.get("query_string", b"").decode())
        try:
            doc = json.loads(body)
            ctx = doc.get("ctx") or {}
            record(
                "call",
                fn_id=query.get("fnId", [None])[0],
                step_id=query.get("stepId", [None])[0],
                run_id=ctx.get("run_id"),
                attempt=ctx.get("attempt"),
                use_api=doc.get("use_api"),
            )
        except (ValueError, AttributeError):
            record("call", unparsable=body[:200].decode(errors="replace"))

        replayed = False

        async def replay() -> Any:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
