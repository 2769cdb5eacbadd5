"""Cron triggers: a ``* * * * *`` function fires once a minute, each fire makes exactly one
run, and a server restart between fires neither repeats nor skips one."""

from __future__ import annotations

import itertools
import time
from typing import Any

import pytest

from .harness import (
    SCHEDULED,
    CoreStack,
    InletServer,
    Stack,
    cron_fires,
    instant,
    start_app_stack,
    wait_for,
)

pytestmark = [pytest.mark.acceptance, pytest.mark.slow]

TICKER = "accept-time-cron-ticker"


def _wait_fires(server: InletServer, count: int, timeout: float) -> list[dict[str, Any]]:
    def enough() -> list[dict[str, Any]] | None:
        fires = cron_fires(server)
        return fires if len(fires) >= count else None

    return wait_for(
        enough,
        timeout,
        f"{count} fires of the cron schedule",
        interval=0.5,
        describe=lambda: str(cron_fires(server)),
    )


def _assert_fires(cron: CoreStack, fires: list[dict[str, Any]]) -> None:
    """Each fire made exactly one completed run (and one execution), a minute apart."""
    server, records = cron.server, cron.records
    for fire in fires:
        assert fire["data"]["cron"] == "* * * * *", fire
        scheduled = instant(fire["data"]["scheduledAt"])
        assert scheduled % 60 == 0, f"fire not on a minute boundary: {fire}"
        (run,) = server.runs_for_event(fire["internal_id"], timeout=30)
        assert run["function_id"] == TICKER, run
        assert run["status"] == "Completed", run
        (tick,) = records.find("tick", event_id=fire["id"])
        assert tick["name"] == SCHEDULED, tick
        assert scheduled <= tick["at"] < scheduled + 30, (fire, tick)
    nominal = [instant(f["data"]["scheduledAt"]) for f in fires]
    assert [b - a for a, b in itertools.pairwise(nominal)] == [60.0] * (len(fires) - 1), fires
    actual = sorted(t["at"] for t in records.find("tick"))
    assert len(actual) == len(fires), records.find("tick")
    for a, b in itertools.pairwise(actual):
        assert 30 < b - a < 90, f"runs {b - a:.1f}s apart: {actual}"


@pytest.mark.timeout(240)
def test_a_cron_function_fires_every_minute_with_exactly_one_run_per_fire(stack: Stack) -> None:
    cron = start_app_stack(stack, "apps.time_app:cron_app", [TICKER])

    fires = _wait_fires(cron.server, 2, timeout=130)

    _assert_fires(cron, fires[:2])


@pytest.mark.timeout(240)
def test_a_server_restart_between_fires_neither_repeats_nor_skips_a_fire(stack: Stack) -> None:
    cron = start_app_stack(stack, "apps.time_app:cron_app", [TICKER])
    server = cron.server
    (first,) = _wait_fires(server, 1, timeout=70)
    server.runs_for_event(first["internal_id"], timeout=30)

    server.kill()
    server.start()
    server.wait_functions([TICKER])
    fires = _wait_fires(server, 2, timeout=70)

    assert fires[0]["internal_id"] == first["internal_id"], fires
    _assert_fires(cron, fires[:2])


@pytest.mark.timeout(240)
def test_a_fire_missed_while_the_server_was_down_is_made_once_when_it_comes_back(
    stack: Stack,
) -> None:
    cron = start_app_stack(stack, "apps.time_app:cron_app", [TICKER])
    server = cron.server
    (first,) = _wait_fires(server, 1, timeout=70)
    server.runs_for_event(first["internal_id"], timeout=30)

    server.kill()
    missed_at = instant(first["data"]["scheduledAt"]) + 60
    wait_for(lambda: time.time() > missed_at + 3, 70, "the next fire time to pass")
    restarted_at = time.time()
    server.start()
    fires = _wait_fires(server, 2, timeout=30)

    assert len(fires) == 2, fires
    assert instant(fires[1]["data"]["scheduledAt"]) == missed_at, fires
    _assert_fires(cron, fires)
    (late,) = cron.records.find("tick", event_id=fires[1]["id"])
    assert late["at"] > restarted_at, late
