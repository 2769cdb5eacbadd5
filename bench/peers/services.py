"""The servers the peers need (Redis, PostgreSQL) and the CPU time of processes.

Every server listens on 127.0.0.1 on a free port and is stopped by its PID, also after a
failure: use them as context managers. CPU time is read from /proc/<pid>/stat (Linux
only), summed over a process and its descendants.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

HOST = "127.0.0.1"
REPO = Path(__file__).resolve().parents[2]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PR_SET_PDEATHSIG = 1


class PeerError(Exception):
    """A peer's benchmark could not run; the message says which stage failed."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def until(what: str, ready: Callable[[], bool], timeout: float, interval: float = 0.05) -> None:
    """Call `ready()` until it is true; PeerError naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(interval)
    raise PeerError(f"{what} not within {timeout:.0f} s")


# ---------------------------------------------------------------------------------------
# CPU


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry))
    return tree


def cpu_seconds(pid: int) -> float:
    """utime + stime of `pid` and its live descendants, in seconds (0 for a gone process)."""
    tree, todo, total = _children(), [pid], 0
    while todo:
        current = todo.pop()
        todo.extend(tree.get(current, []))
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


def die_with_parent() -> None:
    """For Popen's preexec_fn: the child gets SIGTERM when this process dies, even by
    SIGKILL (Linux prctl PR_SET_PDEATHSIG), so no server outlives a killed benchmark."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def stop_pid(proc: subprocess.Popen[bytes], name: str) -> None:
    """SIGTERM, then SIGKILL after 10 s."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        print(f"{name} (pid {proc.pid}) ignored SIGTERM for 10 s: SIGKILL", file=sys.stderr)
        proc.kill()
        proc.wait(timeout=10)


def tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"(no log at {path})"
    return f"--- last {lines} lines of {path} ---\n" + "\n".join(text[-lines:])


# ---------------------------------------------------------------------------------------
# Redis


@contextlib.contextmanager
def redis_server(workdir: Path) -> Iterator[tuple[str, int]]:
    """Debian's redis-server on a free loopback port with an append-only file fsynced
    every second (Redis' own durable setting); yields (its URL, its PID)."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise PeerError("redis-server is not installed: run bench/peers/setup (as root)")
    port = free_port()
    log = workdir / "redis.log"
    argv = [binary, "--bind", HOST, "--port", str(port), "--dir", str(workdir)]
    argv += ["--save", "", "--appendonly", "yes", "--appendfsync", "everysec"]
    argv += ["--daemonize", "no", "--logfile", str(log)]
    proc = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, preexec_fn=die_with_parent
    )
    try:

        def answers() -> bool:
            if proc.poll() is not None:
                raise PeerError(f"redis-server exited with {proc.returncode}\n{tail(log)}")
            with contextlib.suppress(OSError), socket.create_connection((HOST, port), 1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
            return False

        until("redis-server answering PING", answers, 20)
        yield f"redis://{HOST}:{port}/0", proc.pid
    finally:
        stop_pid(proc, "redis-server")


# ---------------------------------------------------------------------------------------
# PostgreSQL


@contextlib.contextmanager
def postgres(pg_url: str | None) -> Iterator[tuple[str, int | None]]:
    """A database for DBOS: `pg_url` as given, or a fresh one of a throwaway durable
    server (tests/pgserver.py, like bench/pg.py's) stopped by its PID at the end. Yields
    (the URL, the postmaster's PID when this process can find it, else None)."""
    if pg_url is not None:
        yield pg_url, _postmaster_pid(pg_url)
        return
    sys.path.insert(0, str(REPO / "tests"))
    from pgserver import PostgresError, PostgresServer

    base = Path(tempfile.mkdtemp(prefix="inlet-peer-pg-"))
    try:
        try:
            server = PostgresServer(base, fast=False)
            server.start()
        except PostgresError as exc:
            raise PeerError(f"PostgreSQL did not start: {exc}") from exc
        try:
            yield server.create_database("dbos_bench"), server.pid
        finally:
            try:
                server.stop()
            except PostgresError as exc:
                print(f"stopping PostgreSQL: {exc}; killing it", file=sys.stderr)
                with contextlib.suppress(PostgresError):
                    server.kill()
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _postmaster_pid(url: str) -> int | None:
    """The postmaster's PID of a server on this machine, read from postmaster.pid in its
    data directory (SHOW data_directory needs a superuser), or None."""
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=5, autocommit=True) as conn:
            row = conn.execute("SHOW data_directory").fetchone()
        if row is None:
            return None
        first = (Path(str(row[0])) / "postmaster.pid").read_text().split("\n", 1)[0]
        pid = int(first) if first.strip().isdigit() else None
        # Only a live local postmaster: a server elsewhere may share the path.
        if pid is None or not Path(f"/proc/{pid}/comm").read_text().startswith("postgres"):
            return None
    except (psycopg.Error, OSError):
        return None
    return pid
