"""The stall alerts in fake time, each firing once and resolving: a run with no progress
for an hour (a sleeping run is not one), events that start no run of a paused function,
an app whose syncs keep failing for five minutes; and a rules file that tunes them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from inlet.alerts.checks import QUIET_EVERY
from inlet.alerts.rules import INTERVAL
from inlet.config import Settings
from inlet.server import Server
from inlet.store.alerts import Alert
from inlet.store.memory import MemoryStore
from inlet.store.operations import PAUSED
from inlet.testing import Context, FakeClock, FakeSDK, InletTest

HOUR = 3600.0


def sleepers(clock: FakeClock) -> FakeSDK:
    sdk = FakeSDK("shop", clock=clock)

    @sdk.function("export", event="shop/export", retries=0)
    async def export(ctx: Context) -> str:
        await ctx.step.run("gather", lambda: 3)
        await ctx.step.sleep("cool-down", 30 * 60)
        return "exported"

    @sdk.function("nap", event="shop/nap", retries=0)
    async def nap(ctx: Context) -> str:
        await ctx.step.sleep("long-nap", 2 * HOUR)
        return "rested"

    return sdk


def server(inlet: InletTest) -> Server:
    assert inlet.app is not None
    found: Server = inlet.app.state.server
    return found


async def alerts(inlet: InletTest, rule: str, subject: str | None = None) -> list[Alert]:
    found = await inlet.store.list_alerts(limit=100)
    return [a for a in found if a.rule == rule and subject in (None, a.subject)]


async def test_a_run_without_progress_for_an_hour_fires_once_and_resolves_once_it_moves(
    clock: FakeClock,
) -> None:
    store = MemoryStore()
    # The reaper waits two hours before reviving a run left without work: the alert first.
    settings = Settings(database_url="memory://", discovery=False, stuck_after=2 * HOUR)
    async with InletTest(sleepers(clock), settings=settings, clock=clock, store=store) as inlet:
        (lost,) = await inlet.runs(await inlet.send_one("shop/export"))
        (napping,) = await inlet.runs(await inlet.send_one("shop/nap"))
        store._tx.drop_run_items(lost["run_id"])  # the cool-down's timer is lost
        started = clock.now()

        await inlet.advance(HOUR - INTERVAL)
        assert await alerts(inlet, "run.no_progress") == []

        # Quiet runs are looked for every minute (a tenth of the hour, at most a minute).
        await inlet.advance(QUIET_EVERY + INTERVAL)
        (alert,) = await alerts(inlet, "run.no_progress")
        assert alert.subject == "shop-export" and alert.state == "firing"
        summary = alert.summary
        assert summary["run_id"] == lost["run_id"]
        assert summary["run_url"].endswith(f"/ui/runs/{lost['run_id']}")
        (function,) = [f for f in await store.list_functions() if f.slug == "shop-export"]
        assert summary["app"] == function.app_url
        assert summary["quiet_since"] <= started
        assert "nothing is queued for it" in summary["doing"], summary
        assert "ended" in summary["doing"] and "step" in summary["doing"], summary
        assert "no progress for 1h" in summary["message"], summary

        # The napping run sleeps past the hour: it is waiting, not stuck. Still one alert.
        await inlet.advance(HOUR - QUIET_EVERY - 2 * INTERVAL)
        assert [a.subject for a in await alerts(inlet, "run.no_progress")] == ["shop-export"]
        assert (await inlet.run(napping["run_id"]))["status"] == "Running"

        # The reaper revives the lost run: it sleeps again, the alert resolves.
        await inlet.advance(server(inlet).settings.stuck_after)
        (resolved,) = await alerts(inlet, "run.no_progress")
        assert resolved.id == alert.id and resolved.state == "resolved"
        assert (await inlet.run(napping["run_id"]))["status"] == "Completed"


def gated(clock: FakeClock) -> FakeSDK:
    sdk = FakeSDK("shop", clock=clock)

    @sdk.function("digest", event="shop/order", retries=0)
    async def digest(ctx: Context) -> str:
        return "sent"

    @sdk.function("vip", event="shop/order", expression="event.data.vip == true", retries=0)
    async def vip(ctx: Context) -> str:
        return "welcomed"

    return sdk


async def test_events_that_start_no_run_of_a_paused_function_fire_and_a_run_resolves(
    clock: FakeClock,
) -> None:
    async with InletTest(gated(clock), clock=clock) as inlet:
        paused = await inlet.http.post("/v1/functions/shop-digest/pause")
        assert paused.status_code == 200, paused.text
        for n in range(3):
            await inlet.send_one("shop/order", {"n": n, "vip": n == 0})
        await inlet.advance(INTERVAL)

        (alert,) = await alerts(inlet, "events.no_runs")
        assert alert.subject == "shop-digest"
        summary = alert.summary
        assert summary["event"] == "shop/order" and summary["events"] == 3
        assert summary["reasons"] == {PAUSED: 3}, summary
        assert "3 events 'shop/order'" in summary["message"], summary
        # The VIP function ran for the first event: events it skipped then are no alert.
        assert await alerts(inlet, "events.no_runs") == [alert]

        await inlet.advance(HOUR)
        assert len(await alerts(inlet, "events.no_runs")) == 1, "fired once"

        resumed = await inlet.http.post("/v1/functions/shop-digest/resume")
        assert resumed.status_code == 200, resumed.text
        await inlet.send_one("shop/order", {"n": 4, "vip": True})
        await inlet.advance(INTERVAL)
        (resolved,) = await alerts(inlet, "events.no_runs", "shop-digest")
        assert resolved.state == "resolved"


async def test_a_trigger_expression_false_for_every_event_fires_with_the_reason(
    clock: FakeClock,
) -> None:
    async with InletTest(gated(clock), clock=clock) as inlet:
        for n in range(2):
            await inlet.send_one("shop/order", {"n": n, "vip": False})
        await inlet.advance(INTERVAL)

        (alert,) = await alerts(inlet, "events.no_runs")
        assert alert.subject == "shop-vip"
        (reason,) = alert.summary["reasons"]
        assert "expression was not true" in reason and "event.data.vip" in reason
        assert alert.summary["events"] == 2

        await inlet.send_one("shop/order", {"n": 3, "vip": True})
        await inlet.advance(INTERVAL)
        (resolved,) = await alerts(inlet, "events.no_runs")
        assert resolved.state == "resolved"


async def test_an_app_failing_to_sync_fires_only_after_five_minutes_and_clears_on_a_sync(
    clock: FakeClock,
) -> None:
    sdk = gated(clock)
    async with InletTest(sdk, clock=clock) as inlet:
        # What the syncer records each time it cannot reach the app.
        (app,) = await inlet.store.list_apps()
        failing_from = clock.now()
        while clock.now() < failing_from + 300 - INTERVAL:
            await inlet.store.set_app_error(app.url, "connection refused", clock.now())
            await inlet.advance(INTERVAL)
        assert await alerts(inlet, "app.unreachable") == []

        await inlet.store.set_app_error(app.url, "HTTP 401: bad signature", clock.now())
        await inlet.advance(2 * INTERVAL)
        (alert,) = await alerts(inlet, "app.unreachable")
        assert alert.subject == app.url
        assert alert.summary["failing_since"] == failing_from
        assert alert.summary["error"] == "HTTP 401: bad signature"

        await inlet.advance(HOUR)
        assert len(await alerts(inlet, "app.unreachable")) == 1

        await inlet.register(sdk)  # a sync that succeeds
        await inlet.advance(INTERVAL)
        (resolved,) = await alerts(inlet, "app.unreachable")
        assert resolved.state == "resolved"


def failing(clock: FakeClock, broken: dict[str, bool]) -> FakeSDK:
    sdk = FakeSDK("shop", clock=clock)

    for fn_id in ("charge", "nightly"):

        @sdk.function(fn_id, event=f"shop/{fn_id}", retries=0)
        async def run(ctx: Context) -> Any:
            def call() -> str:
                if broken["yes"]:
                    raise KeyError("STRIPE_KEY")
                return "ok"

            return await ctx.step.run("call", call)

    return sdk


async def test_a_rules_file_tunes_the_rate_and_interval_turns_a_function_off_and_names_typos(
    clock: FakeClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rules = tmp_path / "alerts.toml"
    rules.write_text(
        'interval = "1m"\n\n'
        '[rules."function.failing"]\nruns = 4\nmax_success_rate = 0.5\nfirst_runs = 4\n\n'
        '[rules."function.failing".functions."shop-nightly"]\nenabled = false\n\n'
        '[rules."function.failing".functions."shop-nigthly"]\nenabled = false\n'
    )
    settings = Settings(database_url="memory://", discovery=False, alert_rules=str(rules))
    broken = {"yes": False}
    async with InletTest(failing(clock, broken), settings=settings, clock=clock) as inlet:
        # A second between runs: "the last 4" is by creation, and runs created in the same
        # millisecond have no order.
        for n in range(4):
            broken["yes"] = n % 2 == 0
            await inlet.send_one("shop/charge", {"n": n})
            await inlet.send_one("shop/nightly", {"n": n})
            await inlet.advance(1)
        await inlet.advance(INTERVAL)
        assert await alerts(inlet, "function.failing") == [], "evaluated every minute"

        await inlet.advance(60)
        (alert,) = await alerts(inlet, "function.failing")
        assert alert.subject == "shop-charge", "shop-nightly's rule is off"
        warned = [r for r in caplog.records if r.getMessage() == "alerts.unknown_function"]
        assert [r.__dict__["functions"] for r in warned] == [["shop-nigthly"]], "said once"
        assert alert.summary["success_rate"] == 0.5
        assert "succeeded at 50%" in alert.summary["message"]

        broken["yes"] = False
        for n in range(2):
            await inlet.send_one("shop/charge", {"n": n})
            await inlet.advance(1)
        await inlet.advance(60)
        (resolved,) = await alerts(inlet, "function.failing")
        assert resolved.state == "resolved", "3 of the last 4 completed: 75% > 50%"


class Flaky(FakeSDK):
    """An app whose every call is dropped while ``down``, as a crashed or unplugged host."""

    down = False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self.down:
            raise ConnectionResetError("connection reset by peer")
        await super().__call__(scope, receive, send)


async def test_an_app_whose_calls_get_no_answer_for_five_minutes_fires_and_a_sync_clears_it(
    clock: FakeClock,
) -> None:
    sdk = Flaky("shop", clock=clock)

    @sdk.function("charge", event="shop/charge", retries=20)
    async def charge(ctx: Context) -> Any:
        return await ctx.step.run("call", lambda: "ok")

    async with InletTest(sdk, clock=clock) as inlet:
        sdk.down = True
        await inlet.send_one("shop/charge")
        await inlet.advance(INTERVAL)
        (app,) = await inlet.store.list_apps()
        assert app.error is not None and "ConnectionResetError" in app.error
        assert await alerts(inlet, "app.unreachable") == []  # not at the first failure

        await inlet.advance(300)
        (alert,) = await alerts(inlet, "app.unreachable")
        assert alert.subject == app.url
        assert "a call failed" in alert.summary["error"]
        assert "unreachable or refuses this server" in alert.summary["message"]

        sdk.down = False
        await inlet.register(sdk)  # the sync loop reaching the app again
        await inlet.advance(INTERVAL)
        (resolved,) = await alerts(inlet, "app.unreachable")
        assert resolved.state == "resolved"
