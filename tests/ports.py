"""Ports for the servers tests and benchmarks start, chosen so two never collide.

Asking the OS for port 0 and closing the socket is racy: the port comes from the
ephemeral range, where the very next outgoing connection (an HTTP client, a database
pool) may take it before the server binds it, and a later call may hand it out again.
That failed a CI run with "address already in use". Ports here come from below the
ephemeral range, are checked free by a bind, and are never handed out twice by one
process; the start differs per process, so parallel runs rarely probe the same ports.
"""

from __future__ import annotations

import os
import socket
import threading

LOW = 20_000
HIGH = 32_000  # below Linux's default ephemeral range (32768-60999)

_lock = threading.Lock()
_given: set[int] = set()
_next = LOW + (os.getpid() * 7919) % (HIGH - LOW)


def _bindable(port: int, host: str) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A port no one listens on, outside the ephemeral range, not given out before."""
    global _next
    with _lock:
        for _ in range(HIGH - LOW):
            port = _next
            _next = LOW if _next + 1 >= HIGH else _next + 1
            if port not in _given and _bindable(port, host):
                _given.add(port)
                return port
    raise RuntimeError(f"no free port between {LOW} and {HIGH}")
