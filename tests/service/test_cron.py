"""Cron triggers in fake time: a ``* * * * *`` function fires once a minute, each fire
makes exactly one run, and a restart between fires neither repeats nor skips one."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

from inlet.testing import Context, FakeClock, FakeSDK, InletTest

from .conftest import T0

SCHEDULED = "inngest/scheduled.timer"
TICKER = "accept-time-cron-ticker"


def ticker_app(clock: FakeClock, ticks: list[dict[str, Any]]) -> FakeSDK:
    sdk = FakeSDK("accept-time-cron", clock=clock)

    @sdk.function("ticker", cron="* * * * *")
    async def ticker(ctx: Context) -> dict[str, Any]:
        event = ctx.event
        tick = {"event_id": event["id"], "name": event["name"], "at": clock.now()}
        ticks.append(tick)
        return tick

    return sdk


def instant(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


async def cron_fires(inlet: InletTest) -> list[dict[str, Any]]:
    return sorted(await inlet.events(SCHEDULED), key=lambda e: instant(e["data"]["scheduledAt"]))


async def assert_fires(
    inlet: InletTest, ticks: list[dict[str, Any]], fires: list[dict[str, Any]]
) -> None:
    """Each fire made exactly one completed run (and one execution), a minute apart."""
    for fire in fires:
        assert fire["data"]["cron"] == "* * * * *", fire
        scheduled = instant(fire["data"]["scheduledAt"])
        assert scheduled % 60 == 0, f"fire not on a minute boundary: {fire}"
        (run,) = await inlet.runs(fire["internal_id"])
        assert run["function_id"] == TICKER, run
        assert run["status"] == "Completed", run
        (tick,) = [t for t in ticks if t["event_id"] == fire["id"]]
        assert tick["name"] == SCHEDULED, tick
        assert scheduled <= tick["at"] < scheduled + 30, (fire, tick)
    nominal = [instant(f["data"]["scheduledAt"]) for f in fires]
    assert [b - a for a, b in itertools.pairwise(nominal)] == [60.0] * (len(fires) - 1), fires
    actual = sorted(t["at"] for t in ticks)
    assert len(actual) == len(fires), ticks
    for a, b in itertools.pairwise(actual):
        assert 30 < b - a < 90, f"runs {b - a:.1f}s apart: {actual}"


async def test_a_cron_function_fires_every_minute_with_exactly_one_run_per_fire(
    clock: FakeClock,
) -> None:
    ticks: list[dict[str, Any]] = []
    async with InletTest(ticker_app(clock, ticks), clock=clock) as inlet:
        await inlet.advance(59)
        assert await cron_fires(inlet) == []

        await inlet.advance(121)

        fires = await cron_fires(inlet)
        assert [instant(f["data"]["scheduledAt"]) for f in fires] == [T0 + 60, T0 + 120, T0 + 180]
        await assert_fires(inlet, ticks, fires)


async def test_a_server_restart_between_fires_neither_repeats_nor_skips_a_fire(
    clock: FakeClock,
) -> None:
    ticks: list[dict[str, Any]] = []
    async with InletTest(ticker_app(clock, ticks), clock=clock) as inlet:
        await inlet.advance(61)
        (first,) = await cron_fires(inlet)
        (run,) = await inlet.runs(first["internal_id"])
        assert run["status"] == "Completed", run

        await inlet.stop()
        await inlet.start()
        await inlet.advance(60)

        fires = await cron_fires(inlet)
        assert len(fires) == 2, fires
        assert fires[0]["internal_id"] == first["internal_id"], fires
        await assert_fires(inlet, ticks, fires)


async def test_a_fire_missed_while_the_server_was_down_is_made_once_when_it_comes_back(
    clock: FakeClock,
) -> None:
    ticks: list[dict[str, Any]] = []
    async with InletTest(ticker_app(clock, ticks), clock=clock) as inlet:
        await inlet.advance(61)
        (first,) = await cron_fires(inlet)
        assert (await inlet.runs(first["internal_id"]))[0]["status"] == "Completed"

        await inlet.stop()
        missed_at = instant(first["data"]["scheduledAt"]) + 60
        clock.set(missed_at + 3)
        restarted_at = clock.now()
        await inlet.start()

        fires = await cron_fires(inlet)
        assert len(fires) == 2, fires
        assert instant(fires[1]["data"]["scheduledAt"]) == missed_at, fires
        await assert_fires(inlet, ticks, fires)
        (late,) = [t for t in ticks if t["event_id"] == fires[1]["id"]]
        # The server was down at the fire time: the run is made on the way back.
        assert late["at"] >= restarted_at > missed_at, late
        await inlet.advance(30)
        assert len(await cron_fires(inlet)) == 2, "the missed fire was made twice"
