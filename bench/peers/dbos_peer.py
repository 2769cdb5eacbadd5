"""DBOS (its Python library) under W1, W3 and latency, on SQLite or PostgreSQL.

DBOS runs a workflow's steps in the process that started it (a thread of its executor),
recording each step's output in its system database before the next one. So this process
is the whole peer: its CPU over a batch covers the steps, the durable bookkeeping and the
`DBOS.start_workflow` calls that start the runs (Inlet's counterpart is its server plus the
SDK app; the events' senders are not counted on either side, but starting a DBOS workflow
is DBOS's own work). The database is DBOS's defaults on SQLite (rollback journal, what
`sqlite:///` gives) and a durable throwaway PostgreSQL (fsync and synchronous commit on, as
bench/pg.py's for Inlet) or the one `--pg-url` names.
"""

from __future__ import annotations

import logging
import resource
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import figures
import services
from dbos import DBOS, DBOSConfig
from figures import LATENCY_WARMUPS, SLEEP_S, W3_SPREAD_S, Figures

_marks: dict[str, float] = {}
_marks_lock = threading.Lock()


def _mark(key: str) -> None:
    with _marks_lock:
        _marks[key] = time.time()


@DBOS.step()
def step_one(n: int) -> dict[str, Any]:
    return {"step": 1, "n": n}


@DBOS.step()
def step_two(previous: dict[str, Any]) -> dict[str, Any]:
    return {"step": 2, "n": previous["n"]}


@DBOS.step()
def step_three(previous: dict[str, Any]) -> dict[str, Any]:
    return {"step": 3, "n": previous["n"]}


@DBOS.workflow()
def three_steps(n: int) -> float:
    """W1 and latency: three steps in turn; returns when the third one ended."""
    step_three(step_two(step_one(n)))
    return time.time()


@DBOS.step()
def after_sleep(n: int) -> dict[str, Any]:
    _mark(f"step-{n}")
    return {"woke": n}


@DBOS.workflow()
def sleeper(n: int) -> None:
    """W3: a durable 2 s sleep, then a step."""
    _mark(f"sleep-{n}")
    DBOS.sleep(SLEEP_S)
    after_sleep(n)


def self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run(workload: str, runs: int, database: str, pg_url: str | None) -> Figures:
    """`database` is "sqlite" or "postgres"."""
    logging.getLogger("dbos").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="inlet-peer-dbos-") as tmp:
        if database == "sqlite":
            out = _launched(f"sqlite:///{Path(tmp) / 'dbos.sqlite'}", None, workload, runs)
        else:
            with services.postgres(pg_url) as (url, pid):
                out = _launched(url, pid, workload, runs)
    out["peer_notes"] = (
        "DBOS runs the steps in this process: cpu_us_per_step is the whole process "
        "(steps, bookkeeping, starting the workflows)"
    )
    return out


def _launched(url: str, db_pid: int | None, workload: str, runs: int) -> Figures:
    config: DBOSConfig = {"name": "inlet-peer-bench", "system_database_url": url}
    config["log_level"] = "WARNING"
    DBOS(config=config)
    DBOS.launch()
    try:
        bench: Callable[[int, int | None], Figures] = {
            "w1": _w1,
            "w3": _w3,
            "latency": _latency,
        }[workload]
        return bench(runs, db_pid)
    finally:
        DBOS.destroy(workflow_completion_timeout_sec=5)


def _w1(runs: int, db_pid: int | None) -> Figures:
    for n in range(5):  # warm-up: connections, caches
        DBOS.start_workflow(three_steps, -1 - n).get_result()
    db0 = services.cpu_seconds(db_pid) if db_pid else None
    cpu0 = self_cpu()
    sends, handles = [], []
    for n in range(runs):
        sends.append(time.time())
        handles.append(DBOS.start_workflow(three_steps, n))
    ends = [h.get_result() for h in handles]
    # The workflow's status is written after its function returns: count it in the CPU.
    cpu = self_cpu() - cpu0
    db = services.cpu_seconds(db_pid) - db0 if db_pid and db0 is not None else None
    return figures.chain(sends, ends, cpu, db)


def _w3(runs: int, db_pid: int | None) -> Figures:
    gap = W3_SPREAD_S / runs
    t0 = time.monotonic()
    handles = []
    for n in range(runs):
        delay = t0 + n * gap - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        handles.append(DBOS.start_workflow(sleeper, n))
    for h in handles:
        h.get_result()
    return figures.lateness(
        [_marks[f"sleep-{n}"] for n in range(runs)], [_marks[f"step-{n}"] for n in range(runs)]
    )


def _latency(runs: int, db_pid: int | None) -> Figures:
    durations = []
    for n in range(LATENCY_WARMUPS + runs):
        start = time.time()
        DBOS.start_workflow(three_steps, n).get_result()
        if n >= LATENCY_WARMUPS:
            durations.append(time.time() - start)
    return figures.latency(durations)
