"""A client that is slow to send its request line and headers (slowloris) is cut off by
the real `inlet dev` process, while normal clients and keep-alive connections are served."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from ports import free_port

SRC = str(Path(__file__).resolve().parents[2] / "src")
HEADER_TIMEOUT = 1.0
DEADLINE = 10.0
"""Far above the timeout: a loaded CI machine still passes, a server without one fails."""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, int]]:
    """`inlet dev` with a one-second header timeout; its host and port."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INLET_", "INNGEST_"))}
    env.update({"PYTHONPATH": SRC, "INLET_REQUEST_HEADER_TIMEOUT": str(HEADER_TIMEOUT)})
    argv = [sys.executable, "-m", "inlet", "dev", "--no-discovery", "--port", str(port),
            "--database-url", f"sqlite:///{tmp_path / 'inlet.db'}"]  # fmt: skip
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise AssertionError("inlet dev did not start") from None
                time.sleep(0.1)
        yield "127.0.0.1", port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def connect(address: tuple[str, int]) -> socket.socket:
    sock = socket.create_connection(address, timeout=DEADLINE)
    sock.settimeout(DEADLINE)
    return sock


def read_until_closed(sock: socket.socket) -> tuple[bytes, float]:
    """Everything the server sends until it closes, and how long that took; raises
    TimeoutError when it keeps the connection open past the deadline."""
    started = time.monotonic()
    received = b""
    while chunk := sock.recv(4096):
        received += chunk
    return received, time.monotonic() - started


def get(sock: socket.socket, path: str) -> bytes:
    """One keep-alive GET; the response's head and body (the server sends a length)."""
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: inlet\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        assert chunk, f"the server closed the connection after {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(4096)
    return head


@pytest.mark.timeout(60)
def test_a_connection_that_stops_halfway_through_its_headers_is_closed_with_408(
    server: tuple[str, int],
) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: inlet\r\nX-Slow: ")
        received, took = read_until_closed(sock)

    assert received.startswith(b"HTTP/1.1 408 "), received
    assert b"request headers not complete within 1s" in received
    assert HEADER_TIMEOUT * 0.5 < took < DEADLINE


@pytest.mark.timeout(60)
def test_a_connection_that_sends_nothing_is_closed(server: tuple[str, int]) -> None:
    with connect(server) as sock:
        received, took = read_until_closed(sock)

    assert received == b""
    assert took < DEADLINE


@pytest.mark.timeout(60)
def test_headers_trickled_a_byte_at_a_time_do_not_extend_the_deadline(
    server: tuple[str, int],
) -> None:
    request = b"GET /health HTTP/1.1\r\nHost: inlet\r\nX-Slow: " + b"a" * 200
    started = time.monotonic()
    with connect(server) as sock:
        try:
            for byte in request:
                sock.sendall(bytes([byte]))
                time.sleep(0.1)
        except OSError:
            pass  # the server closed while bytes were still coming: what the test wants
        else:
            raise AssertionError("the server read 20 s of trickled headers without closing")
    assert time.monotonic() - started < DEADLINE


@pytest.mark.timeout(60)
def test_a_normal_request_and_a_keep_alive_connection_are_served(
    server: tuple[str, int],
) -> None:
    host, port = server
    with urllib.request.urlopen(f"http://{host}:{port}/health", timeout=5) as resp:
        assert resp.status == 200

    # Requests spread over more than the header timeout on one connection: each head is
    # quick, so none is cut (the pauses stay under uvicorn's 5 s keep-alive timeout).
    with connect(server) as sock:
        for _ in range(4):
            assert get(sock, "/health").startswith(b"HTTP/1.1 200 ")
            time.sleep(HEADER_TIMEOUT * 0.6)
