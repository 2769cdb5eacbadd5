"""Calling apps: one request per call, mapped to a ``Reply`` that never raises.

``Transport`` is the seam: the server uses ``HTTPTransport`` (the keep-alive client of
``executor/http.py``); tests pass ``inlet.testing.ASGITransport`` to ``create_app`` and
the calls go to an app in the same process.
"""

from __future__ import annotations

from typing import Protocol

from inlet.executor.http import Client, HTTPError, ResponseTooLarge
from inlet.steps.machine import Reply

_KEPT_HEADERS = (
    "x-inngest-sdk",
    "x-inngest-no-retry",
    "retry-after",
    "x-inngest-req-version",
    "content-type",
    "x-inngest-signature",
)


class Transport(Protocol):
    """How the executor sends a call request and gets the app's reply."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> Reply:
        """POST ``body`` to ``url``. Never raises for a failed call: the ``Reply`` says
        why in ``error``."""
        ...


class HTTPTransport:
    """POSTs call requests over HTTP. Failures become a ``Reply`` with ``error`` set."""

    def __init__(self, *, timeout: float, max_response_bytes: int) -> None:
        self._timeout = timeout
        self._max_response = max_response_bytes
        self._client: Client | None = None

    async def start(self) -> None:
        self._client = Client(max_body=self._max_response, request_timeout=self._timeout)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> Reply:
        if self._client is None:
            raise RuntimeError("transport not started")
        try:
            resp = await self._client.post(url, body, headers)
        except TimeoutError:
            return Reply(
                status=0, error=f"no response from {_origin(url)} within {self._timeout:.0f}s"
            )
        except ResponseTooLarge:
            return Reply(
                status=0,
                error=(
                    f"the app's response is larger than {self._max_response} bytes "
                    "(a fixed limit, as in Inngest); return large data by reference"
                ),
            )
        except HTTPError as exc:
            return Reply(status=0, error=f"request to {_origin(url)} failed: {exc}")
        except OSError as exc:
            return Reply(status=0, error=f"request to {_origin(url)} failed: {exc}")
        kept = {h: resp.headers[h] for h in _KEPT_HEADERS if h in resp.headers}
        return Reply(status=resp.status, headers=kept, body=resp.body)


def _origin(url: str) -> str:
    return url.split("?", 1)[0]
