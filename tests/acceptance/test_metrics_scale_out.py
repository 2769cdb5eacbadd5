"""``/metrics`` of two ``inlet start`` processes on one PostgreSQL database, after a known
workload sent half to each: a process-local counter summed over both equals the
workload, and a database-wide gauge reads the same on both (not half, not doubled).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from .harness import InletServer, Stack, wait_for
from .test_production_keys import KEY_A, start_app, start_server, sync

pytestmark = [pytest.mark.acceptance, pytest.mark.timeout(300)]

GREETS = 20
"""Runs of accept-prod-greet sent to each process: one step, then its result."""
NAPS = 3
"""Runs of accept-prod-nap sent to each process, left sleeping (waiting runs)."""
GREET = "accept-prod-greet"
NAP = "accept-prod-nap"

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(server: InletServer) -> Samples:
    reply = server.http.get("/metrics")
    assert reply.status_code == 200, reply.text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(reply.text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def total(scrapes: list[Samples], name: str, **labels: str) -> float:
    return sum(value(s, name, **labels) for s in scrapes)


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_counters_sum_to_the_workload_and_database_gauges_agree(stack: Stack) -> None:
    servers = [start_server(stack, KEY_A), start_server(stack, KEY_A)]
    app = start_app(stack, "apps.prod_app:app", servers[0], KEY_A)
    sync(servers[0], app)
    servers[1].wait_functions([GREET, NAP])

    greets: list[str] = []
    for n, server in enumerate(servers):
        greets += server.send(
            *({"name": "prod/greet", "data": {"key": f"g{n}-{i}"}} for i in range(GREETS))
        )
        server.send(
            *(
                {"name": "prod/nap", "data": {"key": f"n{n}-{i}", "seconds": 3600}}
                for i in range(NAPS)
            )
        )
    calls = 0
    for n, event_id in enumerate(greets):
        (run,) = servers[n % 2].runs_for_event(event_id)
        assert run["status"] == "Completed", run
        calls += sum(1 for a in servers[n % 2].history(run["run_id"]) if a["status_code"])

    def napping() -> bool | None:
        return len(stack.records.find("step", fn="nap", step="before")) == 2 * NAPS or None

    wait_for(napping, 60, "every nap to reach its sleep")

    def settled() -> list[Samples] | None:
        # The naps' first calls may still be being recorded after the app ran the step.
        scrapes = [scrape(server) for server in servers]
        waiting = [value(s, "inlet_runs_waiting", function=NAP) for s in scrapes]
        return scrapes if waiting == [2 * NAPS, 2 * NAPS] else None

    scrapes = wait_for(settled, 60, "both processes to read every nap as waiting")
    workload = 2 * (GREETS + NAPS)

    # Process-local: each process counted its share, the sum is the workload.
    assert total(scrapes, "inlet_events_received_total") == workload
    assert all(value(s, "inlet_events_received_total") == GREETS + NAPS for s in scrapes)
    assert total(scrapes, "inlet_runs_started_total", function=GREET) == 2 * GREETS
    assert total(scrapes, "inlet_runs_started_total", function=NAP) == 2 * NAPS
    finished = "inlet_runs_finished_total"
    assert total(scrapes, finished, function=GREET, status="completed") == 2 * GREETS
    assert total(scrapes, finished, function=NAP, status="completed") == 0
    duration = "inlet_step_duration_seconds_count"
    assert total(scrapes, duration, function=GREET) == calls
    assert total(scrapes, "inlet_sdk_call_errors_total", function=GREET, kind="http_5xx") == 0

    # Database-wide: the same on both processes, the whole database's value.
    for s in scrapes:
        assert value(s, "inlet_store_up") == 1
        assert value(s, "inlet_runs_waiting", function=NAP) == 2 * NAPS
        assert value(s, "inlet_runs_active", function=NAP, status="running") == 2 * NAPS
        assert value(s, "inlet_runs_active", function=GREET, status="running") == 0
        assert value(s, "inlet_queue_depth", function=NAP) == 0
        assert value(s, "inlet_queue_depth", function=GREET) == 0

    for server in servers:
        assert httpx.get(f"{server.url}/metrics", timeout=10).status_code == 401
        ready = httpx.get(f"{server.url}/health/ready", timeout=10)
        body: dict[str, Any] = ready.json()
        assert ready.status_code == 200, body
        assert body["checks"]["schema"]["ok"] is True
