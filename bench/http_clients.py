"""HTTP client cost: the executor's own client against aiohttp and httpx, on the same server.

    python bench/http_clients.py [--requests 3000] [--concurrency 32] [--repeat 5] [--json]

The executor POSTs every call request to an SDK app; this measures what one such request
costs the *client* process. Each repeat starts a small uvicorn server (uvloop, httptools,
on a free 127.0.0.1 port) in a subprocess running this file with ``--serve``; it answers
every POST with a fixed JSON body, like an SDK app's step reply. In this process, on the
event loop inlet serves with (uvloop unless ``--loop asyncio``), each client in turn sends
``--requests`` POSTs of a call-request-sized JSON body from ``--concurrency`` tasks over
one pooled keep-alive client, after ``--warmup`` requests that open the connections. The
order of the clients rotates from one repeat to the next. The server is stopped by its PID
at the end of each repeat, also after a failure or Ctrl-C.

Per client and repeat: CPU of this process (utime+stime from getrusage) per request, and
requests/s over the wall time. The summary gives the median of the repeats and, for
aiohttp and httpx, the ratio of their median CPU per request to the executor client's,
measured in the same run. See bench/README.md and docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiohttp
import httpx
from procs import (
    HOST,
    REPO,
    BenchError,
    Child,
    cpu_seconds,
    free_port,
    run_main,
    self_cpu_seconds,
    spawn,
    supervised,
)

from inlet.executor.http import Client

CLIENTS = ("executor", "aiohttp", "httpx")
# A call request's body and an SDK's step reply, roughly: an event, some memos, a context.
REQUEST_BODY = b'{"event":{"name":"bench/run","data":{"n":1}},"steps":{},"ctx":{}}'.ljust(
    1200, b" "
)
REPLY_BODY = b'[{"op":"StepRun","id":"a1b2c3","name":"one","data":{"value":1}}]'
HEADERS = {"Content-Type": "application/json", "X-Inngest-Signature": "t=1&s=" + "0" * 64}
SCRIPT = Path(__file__).resolve()
READY_TIMEOUT = 20.0
REQUEST_TIMEOUT = 30.0


# ---------------------------------------------------------------------------------------
# The server side (``--serve PORT``): a bare ASGI app, so the server's own cost stays small.


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send(
        {
            "type": "http.response.start",
            "status": 206,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": REPLY_BODY})


def serve(port: int) -> None:
    import uvicorn

    uvicorn.run(
        app,
        host=HOST,
        port=port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
        lifespan="off",
    )


# ---------------------------------------------------------------------------------------
# The client side.

Post = Callable[[str], Awaitable[None]]


@dataclass
class Sample:
    client: str
    requests: int
    cpu_us: float
    """This process's CPU per request, microseconds."""
    per_s: float
    server_cpu_us: float


async def executor_client() -> tuple[Post, Callable[[], Awaitable[None]]]:
    client = Client(max_body=1 << 20, request_timeout=REQUEST_TIMEOUT)

    async def post(url: str) -> None:
        response = await client.post(url, REQUEST_BODY, HEADERS)
        if response.status != 206 or response.body != REPLY_BODY:
            raise BenchError(f"executor client: unexpected reply {response.status}")

    return post, client.close


async def aiohttp_client() -> tuple[Post, Callable[[], Awaitable[None]]]:
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=64),
        timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT),
    )

    async def post(url: str) -> None:
        async with session.post(url, data=REQUEST_BODY, headers=HEADERS) as response:
            body = await response.read()
            if response.status != 206 or body != REPLY_BODY:
                raise BenchError(f"aiohttp: unexpected reply {response.status}")

    return post, session.close


async def httpx_client() -> tuple[Post, Callable[[], Awaitable[None]]]:
    # Its default keeps 20 idle connections: more than the concurrency, so none is closed.
    client = httpx.AsyncClient(
        limits=httpx.Limits(max_connections=64, max_keepalive_connections=64),
        timeout=REQUEST_TIMEOUT,
    )

    async def post(url: str) -> None:
        response = await client.post(url, content=REQUEST_BODY, headers=HEADERS)
        if response.status_code != 206 or response.content != REPLY_BODY:
            raise BenchError(f"httpx: unexpected reply {response.status_code}")

    return post, client.aclose


MAKERS = {"executor": executor_client, "aiohttp": aiohttp_client, "httpx": httpx_client}


async def drive(post: Post, url: str, requests: int, concurrency: int) -> None:
    """``requests`` POSTs from ``concurrency`` tasks, each taking the next until none is left."""
    left = requests

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await post(url)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def measure(name: str, url: str, server: Child, args: argparse.Namespace) -> Sample:
    post, close = await MAKERS[name]()
    try:
        await drive(post, url, args.warmup, args.concurrency)
        server_before = cpu_seconds(server.proc.pid)
        cpu_before = self_cpu_seconds()
        started = time.perf_counter()
        await drive(post, url, args.requests, args.concurrency)
        wall = time.perf_counter() - started
        cpu = self_cpu_seconds() - cpu_before
        server_cpu = cpu_seconds(server.proc.pid) - server_before
    finally:
        await close()
    return Sample(
        client=name,
        requests=args.requests,
        cpu_us=cpu / args.requests * 1e6,
        per_s=args.requests / wall,
        server_cpu_us=server_cpu / args.requests * 1e6,
    )


async def wait_ready(url: str, server: Child) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    async with aiohttp.ClientSession() as session:
        while True:
            server.check_alive()
            try:
                async with session.post(url, data=b"{}") as response:
                    if response.status == 206:
                        return
            except aiohttp.ClientError:
                pass
            if time.monotonic() >= deadline:
                raise BenchError(f"the server at {url} did not answer within {READY_TIMEOUT}s")
            await asyncio.sleep(0.1)


async def one_repeat(index: int, args: argparse.Namespace, logs: Path) -> list[Sample]:
    port = free_port()
    url = f"http://{HOST}:{port}/"
    log = logs / f"server{index}.log"
    argv = [sys.executable, str(SCRIPT), "--serve", str(port)]
    with supervised() as children:
        server = spawn("server", argv, dict(os.environ), log, REPO)
        children.append(server)
        await wait_ready(url, server)
        order = CLIENTS[index % 3 :] + CLIENTS[: index % 3]
        samples = [await measure(name, url, server, args) for name in order]
    samples.sort(key=lambda s: CLIENTS.index(s.client))
    for s in samples:
        print(
            f"repeat {index + 1}  {s.client:<8}  client CPU {s.cpu_us:7.1f} us/request  "
            f"{s.per_s:7.0f} requests/s  server CPU {s.server_cpu_us:6.1f} us/request"
        )
    return samples


def medians(samples: list[list[Sample]]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for name in CLIENTS:
        mine = [s for repeat in samples for s in repeat if s.client == name]
        out[name] = {
            "cpu_us": statistics.median(s.cpu_us for s in mine),
            "per_s": statistics.median(s.per_s for s in mine),
            "server_cpu_us": statistics.median(s.server_cpu_us for s in mine),
        }
    base = out["executor"]["cpu_us"]
    for name in CLIENTS:
        out[name]["cpu_ratio"] = out[name]["cpu_us"] / base
    return out


async def run(args: argparse.Namespace) -> list[list[Sample]]:
    results = []
    with tempfile.TemporaryDirectory(prefix="inlet-bench-http-") as tmp:
        for index in range(args.repeat):
            results.append(await one_repeat(index, args, Path(tmp)))
    summary = medians(results)
    print(
        f"\nmedian of {args.repeat} repeats, {args.requests} POSTs each, "
        f"concurrency {args.concurrency}, loop {args.loop}:"
    )
    for name, m in summary.items():
        print(
            f"  {name:<8}  client CPU {m['cpu_us']:7.1f} us/request "
            f"({m['cpu_ratio']:.2f}x the executor's)  {m['per_s']:7.0f} requests/s  "
            f"server CPU {m['server_cpu_us']:6.1f} us/request"
        )
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    parser.add_argument("--json", action="store_true", help="one JSON summary line at the end")
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        serve(args.serve)
        return 0
    if min(args.requests, args.concurrency, args.repeat) < 1 or args.warmup < 0:
        parser.error("--requests, --concurrency and --repeat must be at least 1")
    if args.loop == "uvloop":
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())

    def summary(results: list[list[Sample]]) -> dict[str, Any]:
        return {
            "concurrency": args.concurrency,
            "requests": args.requests,
            "loop": args.loop,
            "repeats": [[asdict(s) for s in repeat] for repeat in results],
            "medians": medians(results),
        }

    return run_main(lambda: asyncio.run(run(args)), summary if args.json else None)


if __name__ == "__main__":
    sys.exit(main())
