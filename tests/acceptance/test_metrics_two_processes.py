"""``/metrics`` of two ``inlet start`` processes on one PostgreSQL database, with the
official SDK: a cancellation is counted by the process that made it, whichever process
started the run, so the sum over both is the number cancelled; the database-wide gauges
(runs and steps waiting, alerts firing) read the same on both, the whole database's value.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from inlet.alerts.rules import FUNCTION_FAILING
from inlet.store.alerts import Alert
from inlet.store.postgres import PostgresStore

from .harness import InletServer, Stack, wait_for
from .test_production_keys import KEY_A, start_app, start_server, sync

pytestmark = [pytest.mark.acceptance, pytest.mark.timeout(300)]

NAPS = 4
"""Runs of accept-prod-nap sent to each process, left sleeping an hour."""
NAP = "accept-prod-nap"
GREET = "accept-prod-greet"

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


def both(servers: list[InletServer], name: str, **labels: str) -> list[float]:
    return [value(scrape(server), name, **labels) for server in servers]


async def fire_alert(url: str, subject: str, now: float) -> None:
    """An alert recorded in the database, as the leader's alert loop would record it (a
    nap never finishes here, so the rule leaves it firing)."""
    store = PostgresStore(url)
    await store.open()
    try:
        alert = Alert("01ALERT", FUNCTION_FAILING, subject, "firing", now, {"message": "test"})
        assert await store.fire(alert, [], now)
    finally:
        await store.close()


def cancelled(server: InletServer, run_id: str) -> None:
    reply = server.http.delete(f"/v1/runs/{run_id}")
    assert reply.status_code == 200, reply.text


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_cancellations_sum_over_processes_and_waits_and_alerts_read_alike(stack: Stack) -> None:
    servers = [start_server(stack, KEY_A), start_server(stack, KEY_A)]
    app = start_app(stack, "apps.prod_app:app", servers[0], KEY_A)
    sync(servers[0], app)
    servers[1].wait_functions([GREET, NAP])

    sent: list[list[str]] = []
    for n, server in enumerate(servers):
        naps = (
            {"name": "prod/nap", "data": {"key": f"n{n}-{i}", "seconds": 3600}} for i in range(NAPS)
        )
        sent.append(server.send(*naps))

    def asleep() -> list[float] | None:
        # A nap's first call may still be being recorded after the app ran its step.
        seen = both(servers, "inlet_steps_waiting", function=NAP, kind="sleep")
        return seen if seen == [2 * NAPS, 2 * NAPS] else None

    wait_for(asleep, 60, "both processes to read every nap's sleep")
    for s in (scrape(server) for server in servers):
        assert value(s, "inlet_runs_waiting", function=NAP) == 2 * NAPS
        assert value(s, "inlet_steps_waiting", function=NAP, kind="event") == 0
        assert value(s, "inlet_steps_waiting", function=GREET, kind="sleep") == 0

    asyncio.run(fire_alert(stack.database_url, NAP, 1_800_000_000.0))
    assert both(servers, "inlet_alerts_firing", rule=FUNCTION_FAILING) == [1, 1]

    # Each process cancels a run the other started, then the first cancels the rest.
    (first,) = servers[0].runs(sent[0][0])
    (second,) = servers[1].runs(sent[1][0])
    cancelled(servers[1], first["run_id"])
    cancelled(servers[0], second["run_id"])
    reply = servers[0].http.post("/v1/cancellations", json={"function_id": NAP})
    assert reply.status_code == 200, reply.text
    assert reply.json()["data"]["cancelled"] == 2 * NAPS - 2

    counted = both(servers, "inlet_runs_finished_total", function=NAP, status="cancelled")
    assert counted == [2 * NAPS - 1, 1]
    assert both(servers, "inlet_runs_finished_total", function=NAP, status="completed") == [0, 0]
    assert both(servers, "inlet_steps_waiting", function=NAP, kind="sleep") == [0, 0]
    assert both(servers, "inlet_runs_waiting", function=NAP) == [0, 0]

    details: list[dict[str, Any]] = [servers[0].run(r["run_id"]) for r in (first, second)]
    assert [d["status"] for d in details] == ["Cancelled", "Cancelled"], details
