"""Celery with Redis under W1, W3 and latency.

A run is a chain of three tasks (celery_tasks.py), each passing its small dict on; Redis
(our own redis-server, append-only file fsynced every second) is broker and result
backend. One worker process, the prefork pool with as many children as the machine has
cores (`--concurrency`), Celery's defaults otherwise (a task is acknowledged when it is
received, prefetch multiplier 4). Its CPU is the worker's process tree, Redis' is
reported as the database CPU. W3 sends the step after the sleep as the chain's next task
with `countdown=2`: an ETA task the worker holds until it is due.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import figures
import services
from figures import LATENCY_WARMUPS, SLEEP_S, W3_SPREAD_S, Figures

HERE = Path(__file__).resolve().parent
RESULT_TIMEOUT_S = 600.0
WARMUPS = 5


def run(workload: str, runs: int) -> Figures:
    concurrency = os.cpu_count() or 2
    with (
        tempfile.TemporaryDirectory(prefix="inlet-peer-celery-") as tmp,
        services.redis_server(Path(tmp)) as (redis_url, redis_pid),
    ):
        os.environ["INLET_PEER_REDIS"] = redis_url
        tasks = importlib.import_module("celery_tasks")
        log = Path(tmp) / "worker.log"
        argv = [sys.executable, "-m", "celery", "-A", "celery_tasks", "worker"]
        argv += ["--pool", "prefork", "--concurrency", str(concurrency)]
        argv += ["--loglevel", "WARNING", "--without-gossip", "--without-mingle"]
        argv += ["--without-heartbeat", "--logfile", str(log)]
        with log.open("wb") as out:
            worker = subprocess.Popen(
                argv, cwd=HERE, env=os.environ.copy(), stdin=subprocess.DEVNULL,
                stdout=out, stderr=subprocess.STDOUT, preexec_fn=services.die_with_parent,
            )  # fmt: skip
        try:
            for n in range(WARMUPS):  # the worker is up once a chain comes back
                _chain(tasks, -1 - n).get(timeout=60)
            bench = {"w1": _w1, "w3": _w3, "latency": _latency}[workload]
            out_figures = bench(tasks, runs, worker.pid, redis_pid)
        except Exception as exc:
            raise services.PeerError(f"celery {workload}: {exc!r}\n{services.tail(log)}") from exc
        finally:
            services.stop_pid(worker, "celery worker")
            tasks.app.close()
    out_figures["peer_notes"] = (
        f"one Celery worker, prefork pool of {concurrency} (the machine's cores); "
        "Redis is broker and result backend; W3 uses countdown=2"
    )
    return out_figures


def _chain(tasks: ModuleType, n: int) -> Any:
    return (tasks.step_one.s(n) | tasks.step_two.s() | tasks.step_three.s()).apply_async()


def _w1(tasks: ModuleType, runs: int, worker_pid: int, redis_pid: int) -> Figures:
    cpu0, db0 = services.cpu_seconds(worker_pid), services.cpu_seconds(redis_pid)
    sends, results = [], []
    for n in range(runs):
        sends.append(time.time())
        results.append(_chain(tasks, n))
    deadline = time.monotonic() + RESULT_TIMEOUT_S
    ends = [float(r.get(timeout=max(deadline - time.monotonic(), 1))["ended"]) for r in results]
    cpu = services.cpu_seconds(worker_pid) - cpu0
    db = services.cpu_seconds(redis_pid) - db0
    return figures.chain(sends, ends, cpu, db)


def _w3(tasks: ModuleType, runs: int, worker_pid: int, redis_pid: int) -> Figures:
    gap = W3_SPREAD_S / runs
    t0 = time.monotonic()
    results = []
    for n in range(runs):
        delay = t0 + n * gap - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        sleeper = tasks.before_sleep.s(n) | tasks.after_sleep.s().set(countdown=SLEEP_S)
        results.append(sleeper.apply_async())
    deadline = time.monotonic() + RESULT_TIMEOUT_S
    done = [r.get(timeout=max(deadline - time.monotonic(), 1)) for r in results]
    return figures.lateness([d["sleep_start"] for d in done], [d["step_start"] for d in done])


def _latency(tasks: ModuleType, runs: int, worker_pid: int, redis_pid: int) -> Figures:
    durations = []
    for n in range(LATENCY_WARMUPS + runs):
        start = time.time()
        _chain(tasks, n).get(timeout=60)
        if n >= LATENCY_WARMUPS:
            durations.append(time.time() - start)
    return figures.latency(durations)
