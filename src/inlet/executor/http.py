"""A small keep-alive HTTP/1.1 client for call requests, on asyncio and httptools.

Why not aiohttp here: a call request is the executor's hot path (four per three-step run),
and in bench/http_clients.py aiohttp spends about three times this client's CPU per request
(medians of 151 us against 48 us on the 2-core development machine, and httpx about 70
times as much; see docs/performance.md). Parsing is httptools' (the parser uvicorn uses);
this module only keeps connections and frames requests. Sync and discovery, off the hot
path, still use aiohttp.

What it does: one request at a time per connection, a pool of idle connections per origin,
TLS for https, Content-Length and chunked responses, a size cap on the response body, a
connect timeout and a total timeout. A reused connection that the app closed while idle
(uvicorn closes idle connections after 5 s) fails before any byte of the response; that
request is sent once more on a new connection.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

import httptools


class HTTPError(Exception):
    """The request got no complete response (the message says why)."""


class ResponseTooLarge(HTTPError):
    pass


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: dict[str, str]
    """Lower-cased names; a repeated header keeps its last value."""
    body: bytes


@dataclass(frozen=True, slots=True)
class _Origin:
    scheme: str
    host: str
    port: int

    @property
    def netloc(self) -> str:
        default = 443 if self.scheme == "https" else 80
        return self.host if self.port == default else f"{self.host}:{self.port}"


class _Connection(asyncio.Protocol):
    def __init__(self, max_body: int) -> None:
        self._max_body = max_body
        self._parser = httptools.HttpResponseParser(self)
        self._transport: asyncio.Transport | None = None
        self._waiter: asyncio.Future[Response] | None = None
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._size = 0
        self._received = False
        self._headers_done = False
        self.closed = False
        self.keep_alive = True

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not derive from asyncio.Transport; they behave as one.
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self._received = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(HTTPError(f"malformed HTTP response: {exc}"))
        if self._size > self._max_body:
            self._fail(ResponseTooLarge(f"the response is larger than {self._max_body} bytes"))

    def eof_received(self) -> bool | None:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._waiter is not None and not self._waiter.done():
            if self._headers_done and self._close_delimited and self._size <= self._max_body:
                # An HTTP/1.0-style body without Content-Length or chunking (Python's
                # http.server, some proxies) ends when the connection does: it is whole now.
                self.keep_alive = False
                self._waiter.set_result(
                    Response(self._parser.get_status_code(), self._headers, b"".join(self._body))
                )
                return
            if not self._waiter.done():
                reason = f": {exc}" if exc else ""
                self._waiter.set_exception(
                    _Stale()
                    if not self._received
                    else HTTPError(
                        f"the connection closed before the response was complete{reason}"
                    )
                )

    # httptools callbacks

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self._headers_done = True

    @property
    def _close_delimited(self) -> bool:
        return (
            "content-length" not in self._headers
            and "chunked" not in self._headers.get("transfer-encoding", "").lower()
        )

    def on_body(self, body: bytes) -> None:
        # Over the cap, keep counting but stop keeping: data_received fails the request
        # (an exception raised here would reach us wrapped by the parser).
        self._size += len(body)
        if self._size <= self._max_body:
            self._body.append(body)

    def on_message_complete(self) -> None:
        self.keep_alive = self._parser.should_keep_alive()
        if self._size > self._max_body:
            return
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(
                Response(self._parser.get_status_code(), self._headers, b"".join(self._body))
            )

    # Use

    async def request(self, data: bytes) -> Response:
        assert self._transport is not None
        self._headers, self._body, self._size, self._received = {}, [], 0, False
        self._headers_done = False
        self._parser = httptools.HttpResponseParser(self)
        self._waiter = asyncio.get_running_loop().create_future()
        self._transport.write(data)
        try:
            return await self._waiter
        finally:
            self._waiter = None

    def _fail(self, exc: Exception) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(exc)
        self.close()

    def close(self) -> None:
        self.closed = True
        if self._transport is not None:
            self._transport.close()


class _Stale(HTTPError):
    """A reused connection had been closed by the peer before our request reached it."""


class Client:
    """POSTs bodies to URLs over pooled keep-alive connections."""

    def __init__(
        self,
        *,
        max_body: int,
        request_timeout: float,
        connect_timeout: float = 10.0,
        max_idle_per_origin: int = 256,
    ) -> None:
        self._max_body = max_body
        self._request_timeout = request_timeout
        self._connect_timeout = connect_timeout
        self._max_idle = max_idle_per_origin
        self._idle: dict[_Origin, deque[_Connection]] = {}
        self._ssl: ssl.SSLContext | None = None

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> Response:
        """The response, or ``HTTPError``; ``TimeoutError`` after the request timeout."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise HTTPError(f"{url!r} is not an http(s) URL")
        origin = _Origin(
            parts.scheme, parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
        )
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        lines = [
            f"POST {target} HTTP/1.1",
            f"Host: {origin.netloc}",
            f"Content-Length: {len(body)}",
        ]
        lines.extend(f"{k}: {v}" for k, v in headers.items())
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        async with asyncio.timeout(self._request_timeout):
            conn = self._take(origin)
            if conn is not None:
                try:
                    return await self._send(origin, conn, data)
                except _Stale:
                    pass
            conn = await self._connect(origin)
            try:
                return await self._send(origin, conn, data)
            except _Stale:
                raise HTTPError("the app closed the connection without answering") from None

    async def _send(self, origin: _Origin, conn: _Connection, data: bytes) -> Response:
        try:
            response = await conn.request(data)
        except BaseException:
            conn.close()
            raise
        if conn.keep_alive and not conn.closed:
            idle = self._idle.setdefault(origin, deque())
            if len(idle) < self._max_idle:
                idle.append(conn)
                return response
        conn.close()
        return response

    def _take(self, origin: _Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        while idle:
            conn = idle.pop()
            if not conn.closed:
                return conn
        return None

    async def _connect(self, origin: _Origin) -> _Connection:
        loop = asyncio.get_running_loop()
        context = None
        if origin.scheme == "https":
            if self._ssl is None:
                self._ssl = ssl.create_default_context()
            context = self._ssl
        try:
            async with asyncio.timeout(self._connect_timeout):
                _, conn = await loop.create_connection(
                    lambda: _Connection(self._max_body), origin.host, origin.port, ssl=context
                )
        except TimeoutError:
            raise HTTPError(
                f"connecting to {origin.netloc} took longer than {self._connect_timeout:.0f}s"
            ) from None
        except OSError as exc:
            raise HTTPError(f"cannot connect to {origin.netloc}: {exc.strerror or exc}") from None
        return conn

    async def close(self) -> None:
        for idle in self._idle.values():
            while idle:
                idle.pop().close()
        self._idle.clear()
