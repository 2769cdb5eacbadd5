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
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import aiohttp

R = TypeVar("R")

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
# Shared by timers.py and waits.py: an SDK app and `inlet dev` on fresh loopback ports.

REPO = Path(__file__).resolve().parent.parent


def start_uvicorn_app(module: str, app_port: int, inlet_port: int, log: Path) -> Child:
    """`uvicorn <module>` (uvloop, httptools) with INNGEST_DEV pointing at the Inlet."""
    env = {**os.environ, "INNGEST_DEV": f"http://{HOST}:{inlet_port}"}
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


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, for the report header."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "load average unavailable"
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


# ---------------------------------------------------------------------------------------
# Async helpers shared by timers.py and waits.py (aiohttp on loopback).

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


async def start_pair(
    session: aiohttp.ClientSession,
    module: str,
    slugs: Iterable[str],
    db_path: Path,
    logs: Path,
    prefix: str,
    children: list[Child],
) -> tuple[Endpoints, Child, Child]:
    """Start the app (`uvicorn module`), then `inlet dev` on the SQLite file `db_path`;
    wait until GET /dev lists every function of `slugs`.

    Both are appended to `children` as soon as they exist, so the caller's finally
    block stops them whatever happens next.
    """
    inlet_port, app_port = free_port(), free_port()
    ep = Endpoints(f"http://{HOST}:{inlet_port}", f"http://{HOST}:{app_port}")
    app = start_uvicorn_app(module, app_port, inlet_port, logs / f"{prefix}app.log")
    children.append(app)

    async def app_up() -> bool:
        async with session.get(ep.serve_url) as resp:
            return "X-Inngest-SDK" in resp.headers

    # The app first: a server that finds it down retries only after its poll interval.
    await until("the app to answer GET /api/inngest", app_up, time.monotonic() + 30, 0.1, [app])
    inlet_log = logs / f"{prefix}inlet.log"
    inlet = start_inlet_dev(inlet_port, f"sqlite:///{db_path}", ep.serve_url, inlet_log)
    children.append(inlet)
    wanted = tuple(slugs)

    async def synced() -> bool:
        async with session.get(f"{ep.inlet}/dev") as resp:
            text = await resp.text()
            return resp.status == 200 and all(slug in text for slug in wanted)

    what = "the functions to appear in GET /dev"
    await until(what, synced, time.monotonic() + 30, 0.1, children)
    return ep, app, inlet


def parse_iso(value: Any) -> float | None:
    """RFC 3339 as the server writes it (ms precision, Z) → epoch seconds, or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def fmt(value: float | None, spec: str = ".1f") -> str:
    return "-" if value is None else format(value, spec)


def interrupt(signum: int, frame: object) -> NoReturn:
    """SIGTERM handler: unwind like Ctrl-C, so the finally blocks stop the subprocesses."""
    raise KeyboardInterrupt


def run_main(
    run: Callable[[], Coroutine[Any, Any, list[R]]],
    summary: Callable[[list[R]], dict[str, Any]] | None,
) -> int:
    """A benchmark's main: its repeats under SIGTERM-as-Ctrl-C, a failure as one line, and
    with ``summary`` (``--json``) the JSON summary as the last line. The exit code."""
    signal.signal(signal.SIGTERM, interrupt)
    try:
        results = asyncio.run(run())
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    if summary is not None:
        print(json.dumps(summary(results)))
    return 0
