"""The executor's keep-alive HTTP client against real loopback servers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from inlet.executor.http import Client, HTTPError, ResponseTooLarge

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return head + await reader.readexactly(length)


class Server:
    """A raw HTTP server whose behaviour each test writes by hand."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.requests: list[bytes] = []
        self._server: asyncio.Server | None = None

    async def start(self) -> str:
        async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            try:
                await self.handler(reader, writer)
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            finally:
                writer.close()

        self._server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/api/inngest?fnId=f&stepId=step"

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    c = Client(max_body=1000, request_timeout=2.0, connect_timeout=1.0)
    yield c
    await c.close()


def ok(body: bytes, *extra: str) -> bytes:
    head = [
        "HTTP/1.1 200 OK",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        "X-Inngest-SDK: inngest-py:v0.5.19",
        *extra,
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


@pytest.mark.timeout(10)
async def test_requests_reuse_one_keep_alive_connection(client: Client) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            server.requests.append(await read_request(reader))
            writer.write(ok(b'{"n": %d}' % len(server.requests)))

    server = Server(handler)
    url = await server.start()
    try:
        for n in (1, 2, 3):
            resp = await client.post(url, b'{"a": 1}', {"Content-Type": "application/json"})
            assert resp.status == 200 and resp.body == b'{"n": %d}' % n
            assert resp.headers["x-inngest-sdk"] == "inngest-py:v0.5.19"
        assert server.connections == 1
        first = server.requests[0]
        assert first.startswith(b"POST /api/inngest?fnId=f&stepId=step HTTP/1.1\r\n")
        assert b"\r\nContent-Length: 8\r\n" in first and first.endswith(b'\r\n\r\n{"a": 1}')
    finally:
        await server.stop()


@pytest.mark.timeout(10)
async def test_a_chunked_response_is_read_whole(client: Client) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(
            b"HTTP/1.1 206 Partial Content\r\nTransfer-Encoding: chunked\r\n"
            b'X-Inngest-SDK: js\r\n\r\n5\r\n[{"a"\r\n4\r\n:1}]\r\n0\r\n\r\n'
        )
        await writer.drain()
        await reader.read()

    server = Server(handler)
    url = await server.start()
    try:
        resp = await client.post(url, b"{}", {})
        assert resp.status == 206 and resp.body == b'[{"a":1}]'
    finally:
        await server.stop()


@pytest.mark.timeout(10)
async def test_a_connection_the_app_closed_while_idle_is_replaced_transparently(
    client: Client,
) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(ok(b"1"))
        await writer.drain()
        # Like uvicorn's keep-alive timeout: close an idle connection without a word.

    server = Server(handler)
    url = await server.start()
    try:
        assert (await client.post(url, b"{}", {})).body == b"1"
        await asyncio.sleep(0.1)
        assert (await client.post(url, b"{}", {})).body == b"1"
        assert server.connections == 2
    finally:
        await server.stop()


@pytest.mark.timeout(10)
async def test_connection_close_is_honoured(client: Client) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(ok(b"1", "Connection: close"))
        await writer.drain()
        await reader.read()

    server = Server(handler)
    url = await server.start()
    try:
        await client.post(url, b"{}", {})
        await client.post(url, b"{}", {})
        assert server.connections == 2
    finally:
        await server.stop()


@pytest.mark.timeout(10)
async def test_a_response_over_the_size_cap_is_refused(client: Client) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(ok(b"x" * 5000))
        await writer.drain()
        await reader.read()

    server = Server(handler)
    url = await server.start()
    try:
        with pytest.raises(ResponseTooLarge):
            await client.post(url, b"{}", {})
    finally:
        await server.stop()


@pytest.mark.timeout(10)
async def test_an_app_that_never_answers_times_out(client: Client) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(5)

    server = Server(handler)
    url = await server.start()
    try:
        with pytest.raises(TimeoutError):
            await client.post(url, b"{}", {})
    finally:
        await server.stop()


@pytest.mark.timeout(10)
async def test_an_app_that_hangs_up_mid_response_is_an_error(client: Client) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
        await writer.drain()

    server = Server(handler)
    url = await server.start()
    try:
        with pytest.raises(HTTPError, match="closed before the response was complete"):
            await client.post(url, b"{}", {})
    finally:
        await server.stop()


@pytest.mark.timeout(10)
async def test_a_refused_connection_names_the_app(client: Client) -> None:
    async def never_reached(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        return None

    server = Server(never_reached)
    url = await server.start()
    await server.stop()
    with pytest.raises(HTTPError, match=r"cannot connect to 127\.0\.0\.1:"):
        await client.post(url, b"{}", {})


@pytest.mark.timeout(10)
async def test_a_body_ended_by_closing_the_connection_is_read_whole(client: Client) -> None:
    # Python's http.server answers HTTP/1.0 without Content-Length: the close ends the body.
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(
            b"HTTP/1.0 206 Partial Content\r\nX-Inngest-SDK: inngest-py:v0.5.19\r\n"
            b"\r\n" + b'[{"id": "a", "op": "StepRun", "data": 1}]'
        )
        await writer.drain()

    server = Server(handler)
    url = await server.start()
    try:
        for _ in range(2):
            resp = await client.post(url, b"{}", {})
            assert resp.status == 206 and resp.body == b'[{"id": "a", "op": "StepRun", "data": 1}]'
        assert server.connections == 2
    finally:
        await server.stop()
