"""uvicorn's httptools protocol with a deadline on each request's head (slowloris).

uvicorn times out only an idle keep-alive connection *after* a response; a connection that
sends nothing, or a request line and headers a byte at a time, holds a socket and a file
descriptor for ever. Here a timer starts when the connection opens and when a request
begins, and stops once the headers are complete; when it fires the connection closes (after
a 408 if part of a request arrived). Stalled bodies are ``api/limits.py``'s concern.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger("inlet.http")


class HeaderTimeoutProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` closing a connection whose request head takes longer than
    ``header_timeout`` seconds. Build one with :func:`with_header_timeout`."""

    header_timeout: float = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None
        self._in_head = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_header_timer()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        # The first request's deadline counts from the connection, not its first byte.
        if self._header_timer is None:
            self._start_header_timer()

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._stop_header_timer()
        super().on_headers_complete()

    def _start_header_timer(self) -> None:
        self._header_timer = self.loop.call_later(self.header_timeout, self._header_timed_out)

    def _stop_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timed_out(self) -> None:
        self._header_timer = None
        if self.transport.is_closing():
            return
        if self._in_head:
            # Part of a request came: say why, as a client stalled by its network may log it.
            client = f"{self.client[0]}:{self.client[1]}" if self.client else "unknown"
            log.info(
                "http.header_timeout", extra={"client": client, "seconds": self.header_timeout}
            )
            message = f"request headers not complete within {self.header_timeout:g}s".encode()
            self.transport.write(
                b"HTTP/1.1 408 Request Timeout\r\n"
                b"content-type: text/plain; charset=utf-8\r\n"
                b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(message), message)
            )
        self.transport.close()


def with_header_timeout(seconds: float) -> type[HeaderTimeoutProtocol]:
    """The protocol class to pass uvicorn as ``http=``: uvicorn builds one per connection
    from its config alone, so the timeout travels as a class attribute."""
    return type("HeaderTimeoutProtocol", (HeaderTimeoutProtocol,), {"header_timeout": seconds})
