"""The HTTP client that calls apps: one keep-alive aiohttp session per process."""

from __future__ import annotations

import asyncio

import aiohttp

from inlet.executor.machine import Reply

_KEPT_HEADERS = (
    "x-inngest-sdk",
    "x-inngest-no-retry",
    "retry-after",
    "x-inngest-req-version",
    "content-type",
)


class Transport:
    """POSTs call requests. Failures become a ``Reply`` with ``error`` set, never raise."""

    def __init__(self, *, timeout: float, max_response_bytes: int, connections: int) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout, sock_connect=10.0)
        self._max_response = max_response_bytes
        self._connections = connections
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=self._connections, limit_per_host=0,
                                         keepalive_timeout=30.0)
        self._session = aiohttp.ClientSession(
            connector=connector, timeout=self._timeout, auto_decompress=True,
            skip_auto_headers=("User-Agent",),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("transport not started")
        return self._session

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> Reply:
        try:
            async with self.session.post(url, data=body, headers=headers) as resp:
                data = await resp.content.read(self._max_response + 1)
                if len(data) > self._max_response:
                    return Reply(status=0, error=(
                        f"the app's response is larger than {self._max_response} bytes "
                        "(INLET_MAX_RESPONSE_BYTES)"
                    ))
                kept = {h: resp.headers[h] for h in _KEPT_HEADERS if h in resp.headers}
                return Reply(status=resp.status, headers=kept, body=data)
        except TimeoutError:
            return Reply(status=0, error=f"no response from {_origin(url)} within "
                                         f"{self._timeout.total:.0f}s")
        except aiohttp.ClientConnectorError as exc:
            return Reply(status=0, error=f"cannot connect to {_origin(url)}: {exc.os_error}")
        except (aiohttp.ClientError, asyncio.IncompleteReadError, OSError) as exc:
            return Reply(status=0, error=f"request to {_origin(url)} failed: "
                                         f"{type(exc).__name__}: {exc}")


def _origin(url: str) -> str:
    return url.split("?", 1)[0]
