"""Cron triggers with the real SDK: a ``* * * * *`` fire runs the function once, on a
minute boundary, with the scheduled-timer event. That it fires every minute, that a
restart between fires neither repeats nor skips one, and that a fire missed while the
server was down is made once are tested in fake time by ``tests/service/test_cron.py``,
without waiting minutes."""

from __future__ import annotations

import itertools
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
def test_a_cron_fire_runs_the_function_once_with_the_scheduled_event(stack: Stack) -> None:
    cron = start_app_stack(stack, "apps.time_app:cron_app", [TICKER])

    fires = _wait_fires(cron.server, 1, timeout=70)

    _assert_fires(cron, fires[:1])
