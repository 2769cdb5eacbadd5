"""Subprocesses for the benchmarks: start, stop, and the CPU time they used.

CPU time is read from /proc/<pid>/stat (Linux only), summed over the process and its
descendants, so it is independent of what else the machine is doing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import aiohttp

R = TypeVar("R")
T = TypeVar("T")

HOST = "127.0.0.1"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class BenchError(Exception):
    """The benchmark could not complete; the message says which stage failed."""


def free_port() -> int:
    # Binding to port 0 lets the kernel pick; the tiny race before the child binds it is
    # acceptable on a benchmark machine.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Child:
    """A subprocess we started, with the log file its output goes to."""

    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    def check_alive(self) -> None:
        code = self.proc.poll()
        if code is not None:
            raise BenchError(f"{self.name} exited with code {code} (its log is printed above)")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def stop_all(children: Iterable[Child]) -> None:
    """Stop each child by its PID, the last started first (servers before the app they
    call, so their shutdown errors reach their logs)."""
    for child in reversed(list(children)):
        child.stop()


@contextlib.contextmanager
def supervised(children: list[Child] | None = None) -> Iterator[list[Child]]:
    """The list to append every child the block starts to, as soon as it exists: all are
    stopped by PID when the block ends, however it ends. When the block raises (Ctrl-C
    too), they are stopped first, so that the logs are complete, then the tail of each log
    goes to stderr."""
    started = [] if children is None else children
    try:
        yield started
    except BaseException:
        stop_all(started)
        for child in started:
            print(tail(child.log), file=sys.stderr)
        raise
    finally:
        stop_all(started)


# A line of `inlet`'s text or JSON log output that reports a problem.
_PROBLEM = re.compile(
    r"^\d\d:\d\d:\d\d (WARNING|ERROR|CRITICAL) |^Traceback "
    r"|\"level\": \"(warning|error|critical)\""
)


def log_problems(children: Iterable[Child]) -> list[str]:
    """A note for each log with warnings or errors in it: how many lines, and the first."""
    notes = []
    for child in children:
        try:
            lines = child.log.read_text(errors="replace").splitlines()
        except OSError:
            continue
        bad = [line for line in lines if _PROBLEM.search(line)]
        if bad:
            notes.append(
                f"{child.name} logged {len(bad)} warning/error line(s), the first: {bad[0][:300]}"
            )
    return notes


def tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"(no log at {path})"
    return f"--- last {lines} lines of {path.name} ---\n" + "\n".join(text[-lines:])


def spawn(name: str, argv: list[str], env: dict[str, str], log: Path, cwd: Path) -> Child:
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    return Child(name, proc, log)


def process_tree(root: int) -> list[int]:
    """`root` and its live descendants, so work moved into a child process is counted."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            rest = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(rest[1]), []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def cpu_seconds(root: int) -> float:
    """utime+stime (plus reaped children's) of a process tree, from /proc/<pid>/stat."""
    ticks = 0
    for pid in process_tree(root):
        try:
            # The command name may contain spaces and parentheses: split after the last ')'.
            rest = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        # rest[0] is field 3 (state); utime, stime, cutime, cstime are fields 14-17.
        ticks += sum(int(v) for v in rest[11:15])
    return ticks / CLOCK_TICKS


def cpu_seconds_fine(root: int) -> float:
    """CPU time of a process tree's live threads in ns resolution (/proc/<pid>/task/<tid>/
    schedstat), for windows too short for clock ticks. Time of threads that have already
    exited is missing, so use it across short windows of long-lived processes; falls back
    to :func:`cpu_seconds` without schedstat."""
    total = 0
    for pid in process_tree(root):
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tasks:
            try:
                total += int(Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()[0])
            except (OSError, IndexError, ValueError):
                if not Path("/proc/self/schedstat").exists():
                    return cpu_seconds(root)
    return total / 1e9


def main_thread_cpu_seconds(pid: int) -> float:
    """utime+stime of the process's first thread only (where an asyncio server's loop runs)."""
    try:
        rest = Path(f"/proc/{pid}/task/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return sum(int(v) for v in rest[11:13]) / CLOCK_TICKS


def self_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# ---------------------------------------------------------------------------------------
# Starting an SDK app and `inlet dev` (stack.py puts them together).

REPO = Path(__file__).resolve().parent.parent


def start_uvicorn_app(
    module: str, app_port: int, inlet_port: int, log: Path, extra_env: dict[str, str] | None = None
) -> Child:
    """`uvicorn <module>` (uvloop, httptools) with INNGEST_DEV pointing at the Inlet, and
    `extra_env` (the app's own settings) added to our environment."""
    env = {**os.environ, **(extra_env or {}), "INNGEST_DEV": f"http://{HOST}:{inlet_port}"}
    argv = [
        sys.executable, "-m", "uvicorn", module,
        "--host", HOST, "--port", str(app_port),
        "--loop", "uvloop", "--http", "httptools",
        "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    return spawn("app", argv, env, log, REPO)


def inlet_env() -> dict[str, str]:
    """The environment for `python -m inlet ...`: ours, with the checkout's src/ on the path."""
    pythonpath = os.pathsep.join(p for p in (str(REPO / "src"), os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": pythonpath}


def start_inlet_dev(inlet_port: int, database_url: str, app_url: str, log: Path) -> Child:
    """`python -m inlet dev --no-discovery -u <app_url>`, with src/ on the path."""
    env = inlet_env()
    argv = [
        sys.executable, "-m", "inlet", "dev",
        "--host", HOST, "--port", str(inlet_port),
        "--database-url", database_url,
        "--no-discovery", "-u", app_url,
    ]  # fmt: skip
    return spawn("inlet", argv, env, log, REPO)


def nearest_rank(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for an empty list."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


def wait_quiet(pid: int, limit: float = 3.0, window: float = 0.1, below: float = 0.002) -> bool:
    """Block until the process tree used less than `below` CPU s over `window` s.

    True when it went quiet, False when `limit` s passed first. Blocking on purpose: call
    it from a thread (asyncio.to_thread) or between async phases.
    """
    end = time.monotonic() + limit
    before = cpu_seconds(pid)
    while time.monotonic() < end:
        time.sleep(window)
        now = cpu_seconds(pid)
        if now - before < below:
            return True
        before = now
    return False


def cpu_of(children: Iterable[Child]) -> float:
    return sum(cpu_seconds(c.proc.pid) for c in children)


async def quiesce(children: list[Child], limit: float = 3.0) -> None:
    """Wait until the process trees stop using CPU, so trailing bookkeeping is counted."""
    end = time.monotonic() + limit
    before = cpu_of(children)
    while time.monotonic() < end:
        await asyncio.sleep(0.1)
        now = cpu_of(children)
        if now - before < 0.002:
            return
        before = now


def chunks(seq: list[T], size: int) -> Iterator[list[T]]:
    for i in range(0, len(seq), size):
        yield seq[i : i + size]


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, for the report header."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "load average unavailable"
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


# ---------------------------------------------------------------------------------------
# Async helpers shared by the scripts that drive an SDK app (aiohttp on loopback).

EVENT_KEY = "benchkey"


@dataclass(frozen=True)
class Endpoints:
    inlet: str
    app: str

    @property
    def serve_url(self) -> str:
        return f"{self.app}/api/inngest"


async def until(
    what: str,
    check: Callable[[], Awaitable[bool]],
    deadline: float,
    interval: float,
    alive: Iterable[Child] = (),
) -> None:
    """Call `check` every `interval` s until it is true; fail at `deadline` (monotonic)."""
    while True:
        for child in alive:
            child.check_alive()
        with contextlib.suppress(TimeoutError, aiohttp.ClientError):
            if await check():
                return
        if time.monotonic() >= deadline:
            raise BenchError(f"timed out waiting for {what}")
        await asyncio.sleep(interval)


async def get_json(session: aiohttp.ClientSession, url: str) -> Any:
    async with session.get(url) as resp:
        if resp.status != 200:
            raise BenchError(f"GET {url} → {resp.status}: {(await resp.text())[:500]}")
        return await resp.json(content_type=None)


async def post_events(
    session: aiohttp.ClientSession, ep: Endpoints, events: list[dict[str, Any]]
) -> list[str]:
    """POST the events to the event API; their ids, in order."""
    async with session.post(f"{ep.inlet}/e/{EVENT_KEY}", json=events) as resp:
        text = await resp.text()
        if resp.status != 200:
            raise BenchError(f"POST /e/{EVENT_KEY} → {resp.status}: {text[:500]}")
    ids = json.loads(text).get("ids") or []
    if len(ids) != len(events):
        raise BenchError(f"POST /e/{EVENT_KEY} returned {len(ids)} ids for {len(events)}")
    return [str(i) for i in ids]


_FRACTION = re.compile(r"(\.\d{6})\d+")


def parse_iso(value: Any) -> float | None:
    """RFC 3339 (the server writes ms and Z) → epoch seconds; None for null or unparsable."""
    if not isinstance(value, str) or not value:
        return None
    # fromisoformat takes at most microseconds; servers may send nanoseconds.
    text = _FRACTION.sub(r"\1", value.replace("Z", "+00:00"))
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def fmt(value: float | None, spec: str = ".1f") -> str:
    return "-" if value is None else format(value, spec)


def interrupt(signum: int, frame: object) -> NoReturn:
    """SIGTERM handler: unwind like Ctrl-C, so the finally blocks stop the subprocesses."""
    raise KeyboardInterrupt


def run_main(
    run: Callable[[], R], summary: Callable[[R], dict[str, Any] | None] | None = None
) -> int:
    """A benchmark's main: `run` (its repeats; it calls asyncio.run itself, inside whatever
    servers it needs) under SIGTERM-as-Ctrl-C, a failure as one line, and the JSON summary
    `summary` makes of the result, when it makes one, as the last line. The exit code."""
    signal.signal(signal.SIGTERM, interrupt)
    try:
        results = run()
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    if summary is not None and (figures := summary(results)) is not None:
        print(json.dumps(figures))
    return 0
