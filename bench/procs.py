"""Subprocesses for the benchmarks: start, stop, and the CPU time they used.

CPU time is read from /proc/<pid>/stat (Linux only), summed over the process and its
descendants, so it is independent of what else the machine is doing.
"""

from __future__ import annotations

import os
import resource
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

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
