"""The CLI's client of a running server's REST API: one place that knows the base URL, the
API token, the ``{"data", "metadata"}`` envelope and the ``{"error", "status"}`` answers.

Every failure becomes a ``click.ClickException`` whose message says what to fix: the
server's own message, how to pass a token on a 401 or 403, or which URL could not be
reached. The standard library's ``urllib`` is enough here, so the CLI adds no dependency.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import click

TIMEOUT = 30.0
"""Seconds one request may take; an app sync (the server calls the app) is the slowest."""

TOKEN_HINT = (
    "pass an API token with --token or INLET_TOKEN; create one with: "
    "inlet tokens create --role viewer (or --role admin to change things)"
)


class ApiError(click.ClickException):
    """An error answer of the server: its status and its parsed body (which may still hold
    ``data``, as a failed app sync's does)."""

    def __init__(self, message: str, status: int, answer: dict[str, Any]) -> None:
        super().__init__(message)
        self.status = status
        self.answer = answer


@dataclass(frozen=True, slots=True)
class Answer:
    data: Any
    metadata: dict[str, Any]


class Api:
    """``GET``/``POST``/``DELETE`` on ``url`` with ``token``; each returns the answer's
    ``data`` (and ``metadata``) or raises ``ApiError``/``click.ClickException``."""

    def __init__(self, url: str, token: str | None = None, timeout: float = TIMEOUT) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def get(self, path: str, **params: Any) -> Any:
        return self.call("GET", path, params=params).data

    def post(self, path: str, body: Any = None) -> Any:
        return self.call("POST", path, body={} if body is None else body).data

    def delete(self, path: str) -> Any:
        return self.call("DELETE", path).data

    def call(
        self, method: str, path: str, params: dict[str, Any] | None = None, body: Any = None
    ) -> Answer:
        answer = self.raw(method, path, params, body)
        return Answer(answer.get("data"), answer.get("metadata") or {})

    def raw(
        self, method: str, path: str, params: dict[str, Any] | None = None, body: Any = None
    ) -> dict[str, Any]:
        """The JSON object the server answered with, whatever its shape."""
        query = {k: v for k, v in (params or {}).items() if v not in (None, "", (), [])}
        target = self.url + path + ("?" + urlencode(query, doseq=True) if query else "")
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(target, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as resp:
                return _parse(resp.read())
        except urllib.error.HTTPError as exc:
            answer = _parse(exc.read())
            raise ApiError(_explain(exc.code, answer), exc.code, answer) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise click.ClickException(
                f"cannot reach {self.url}: {reason}; is inlet running there? "
                "(set the server with --url or INLET_URL)"
            ) from None


def segment(value: str) -> str:
    """``value`` as one path segment: an id with a slash can't reach another route."""
    return quote(value, safe="")


def _explain(status: int, answer: dict[str, Any]) -> str:
    message = str(answer.get("error") or f"HTTP {status}")
    if status == 401:
        return f"{message}\nhint: {TOKEN_HINT}"
    if status == 403:
        return f"{message}\nhint: this needs an admin token (--token or INLET_TOKEN)"
    return message


def _parse(raw: bytes) -> dict[str, Any]:
    try:
        answer = json.loads(raw or b"{}")
    except ValueError:
        return {"error": raw[:300].decode(errors="replace")}
    return answer if isinstance(answer, dict) else {"data": answer}
