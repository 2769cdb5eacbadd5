"""One SDK app and N `inlet dev` processes on one database, for `bench/run`'s workloads
and the scripts that drive an SDK app (steps.py, timers.py, waits.py, flow.py, latency.py).

Every process listens on 127.0.0.1 on a free port and is stopped by its PID: run the
stack's start and use inside `with supervised(stack.children):` (procs.py), which stops
them however the block ends, also when starting fails half-way.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pg
from procs import (
    HOST,
    BenchError,
    Child,
    Endpoints,
    cpu_seconds,
    free_port,
    start_inlet_dev,
    start_uvicorn_app,
    stop_all,
    until,
)


@dataclass
class Stack:
    """The app, the inlet processes, and the logs' directory. `children` is every process
    started so far, in order, filled as each one starts."""

    eps: list[Endpoints]
    logs: Path
    app: Child | None = None
    inlets: list[Child] = field(default_factory=list)
    children: list[Child] = field(default_factory=list)

    @property
    def ep(self) -> Endpoints:
        return self.eps[0]

    @property
    def started_app(self) -> Child:
        if self.app is None:
            raise BenchError("the app has not been started")
        return self.app

    def pair(self) -> tuple[Endpoints, Child, Child]:
        """The endpoints, the app and the inlet process of a stack of one inlet."""
        if self.app is None or len(self.inlets) != 1:
            raise BenchError(f"expected a started app and one inlet, not {self.children}")
        return self.ep, self.app, self.inlets[0]

    def inlet_cpu(self) -> float:
        return sum(cpu_seconds(c.proc.pid) for c in self.inlets)

    def inlet_rss_mb(self) -> float:
        """Resident memory of the inlet processes (VmRSS), MB."""
        total = 0
        for child in self.inlets:
            for line in Path(f"/proc/{child.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        return total / 1024

    def stop(self) -> None:
        stop_all(self.children)


def database_url(backend: str, cluster: pg.Cluster | None, name: str, tmp: Path) -> str:
    """A fresh database: a new SQLite file in `tmp`, or database `name` of the cluster."""
    if backend == "postgres":
        if cluster is None:
            raise ValueError("backend postgres needs a running cluster")
        return cluster.new_database(name)
    return f"sqlite:///{tmp / (name + '.db')}"


def distinct_ports(n: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < n:
        if (port := free_port()) not in ports:
            ports.append(port)
    return ports


async def start_stack(
    session: aiohttp.ClientSession,
    module: str,
    slugs: Iterable[str],
    url: str,
    processes: int,
    logs: Path,
    stack: Stack | None = None,
    *,
    prefix: str = "",
    app_env: dict[str, str] | None = None,
) -> Stack:
    """Start `uvicorn module` (with `app_env` added to its environment), then the inlet
    processes one after the other, each once the previous one lists every function of
    `slugs` in GET /dev (a sync makes the app register with the first one, its
    INNGEST_DEV). Logs: `<prefix>app.log`, `<prefix>inlet.log` (`inlet1.log`, ... for
    several). Fills `stack` (when given) as processes start, so that the caller's
    `supervised(stack.children)` sees every one of them."""
    app_port, *inlet_ports = distinct_ports(1 + processes)
    eps = [Endpoints(f"http://{HOST}:{p}", f"http://{HOST}:{app_port}") for p in inlet_ports]
    if stack is None:
        stack = Stack(eps, logs)
    stack.eps, stack.logs = eps, logs
    app_log = logs / f"{prefix}app.log"
    stack.app = start_uvicorn_app(module, app_port, inlet_ports[0], app_log, app_env)
    stack.children.append(stack.app)

    async def app_up() -> bool:
        async with session.get(eps[0].serve_url) as resp:
            return "X-Inngest-SDK" in resp.headers

    # The app first: a server that finds it down retries only after its poll interval.
    await until(
        "the app to answer GET /api/inngest", app_up, time.monotonic() + 60, 0.1, [stack.app]
    )
    wanted = tuple(slugs)
    for k, ep in enumerate(eps):
        name = "inlet" if processes == 1 else f"inlet{k + 1}"
        inlet = start_inlet_dev(inlet_ports[k], url, ep.serve_url, logs / f"{prefix}{name}.log")
        inlet.name = name
        stack.inlets.append(inlet)
        stack.children.append(inlet)

        async def synced(ep: Endpoints = ep) -> bool:
            async with session.get(f"{ep.inlet}/dev") as resp:
                text = await resp.text()
                return resp.status == 200 and all(slug in text for slug in wanted)

        what = f"{', '.join(wanted)} to appear in GET /dev of {name}"
        await until(what, synced, time.monotonic() + 60, 0.1, stack.children)
    return stack


def temp_dir(prefix: str) -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix=prefix)
