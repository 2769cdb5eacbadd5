"""The Celery app of the benchmark: three trivial steps (chained, each passing its small
dict on), and W3's pair. Redis is broker and result backend (INLET_PEER_REDIS); the
worker is `celery -A celery_tasks worker`, started by celery_peer.py."""

from __future__ import annotations

import os
import time
from typing import Any

from celery import Celery

REDIS = os.environ.get("INLET_PEER_REDIS", "redis://127.0.0.1:6379/0")

app = Celery("inlet_peer_bench", broker=REDIS, backend=REDIS)
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
)


@app.task
def step_one(n: int) -> dict[str, Any]:
    return {"step": 1, "n": n}


@app.task
def step_two(previous: dict[str, Any]) -> dict[str, Any]:
    return {"step": 2, "n": previous["n"]}


@app.task
def step_three(previous: dict[str, Any]) -> dict[str, Any]:
    """The chain's last step: its result carries when it ended."""
    return {"step": 3, "n": previous["n"], "ended": time.time()}


@app.task
def before_sleep(n: int) -> dict[str, Any]:
    """W3: the run reaches its sleep; the next task is sent with countdown=2."""
    return {"n": n, "sleep_start": time.time()}


@app.task
def after_sleep(previous: dict[str, Any]) -> dict[str, Any]:
    return {**previous, "step_start": time.time()}
