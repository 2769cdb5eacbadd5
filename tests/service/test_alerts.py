"""Alerts in fake time: a function whose runs keep failing fires one alert, delivered to
its webhook with the function, the first error and a link to the run; it does not fire
again while firing, resolves after a run completes, and a webhook that fails is retried
with backoff until it answers 2xx."""

from __future__ import annotations

import json
from typing import Any

import httpx

from inlet.alerts.service import INTERVAL
from inlet.config import Settings
from inlet.testing import Context, FakeClock, FakeSDK, InletTest

HOOK = "http://hooks.test/alerts"
SLACK = "https://hooks.slack.com/services/T0/B0/X"


class Receiver:
    """A webhook that answers ``status`` and keeps what it was sent."""

    def __init__(self) -> None:
        self.status = 200
        self.received: list[tuple[str, dict[str, Any], httpx.Headers, int]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.received.append((str(request.url), body, request.headers, self.status))
        return httpx.Response(self.status)

    def delivered(self, url: str = HOOK) -> list[dict[str, Any]]:
        """The bodies answered with a 2xx, one per delivery id."""
        seen: dict[str, dict[str, Any]] = {}
        for target, body, headers, status in self.received:
            if target == url and status < 300:
                seen.setdefault(headers["Idempotency-Key"], body)
        return list(seen.values())


def app(broken: dict[str, bool]) -> FakeSDK:
    sdk = FakeSDK("shop")

    @sdk.function("charge", event="shop/order", retries=0)
    async def charge(ctx: Context) -> str:
        def call() -> str:
            if broken["yes"]:
                raise KeyError("STRIPE_KEY")
            return "charged"

        return await ctx.step.run("call-stripe", call)

    return sdk


def settings(*hooks: str) -> Settings:
    return Settings(database_url="memory://", discovery=False, alert_webhooks=hooks)


async def started(inlet: InletTest, receiver: Receiver) -> None:
    inlet.app.state.server.alerts.transport = httpx.MockTransport(receiver)  # type: ignore[union-attr]


async def fail(inlet: InletTest, times: int) -> None:
    for n in range(times):
        await inlet.send_one("shop/order", {"n": n})
        await inlet.advance(1)


async def test_a_failing_function_fires_one_alert_that_resolves_once_a_run_completes(
    clock: FakeClock,
) -> None:
    broken = {"yes": True}
    receiver = Receiver()
    async with InletTest(app(broken), settings=settings(HOOK, SLACK), clock=clock) as inlet:
        await started(inlet, receiver)
        await fail(inlet, 10)
        await inlet.advance(INTERVAL)

        (fired,) = receiver.delivered()
        assert fired["state"] == "firing"
        alert = fired["alert"]
        assert alert["function"] == "shop-charge"
        (function,) = await inlet.store.list_functions()
        assert alert["app"] == function.app_url
        assert "KeyError" in alert["error"] and "STRIPE_KEY" in alert["error"]
        failed = await inlet.store.get_run(alert["run_id"])
        assert failed is not None and failed.status == "FAILED"
        assert alert["run_url"].endswith(f"/ui/runs/{alert['run_id']}")
        (slack,) = receiver.delivered(SLACK)
        assert slack["text"].startswith("Firing: ") and "STRIPE_KEY" in json.dumps(slack)
        assert "blocks" in slack

        # Still failing, an hour on: no second alert.
        await fail(inlet, 5)
        await inlet.advance(3600)
        assert len(receiver.delivered()) == 1
        listed = (await inlet.http.get("/v1/alerts")).json()["data"]
        assert [(a["rule"], a["state"]) for a in listed] == [("function.failing", "firing")]

        broken["yes"] = False
        await inlet.send_one("shop/order", {"n": "fixed"})
        await inlet.advance(INTERVAL + 1)

        fired_again, resolved = receiver.delivered()
        assert fired_again == fired
        assert resolved["state"] == "resolved"
        assert resolved["alert"]["id"] == alert["id"]
        firing = (await inlet.http.get("/v1/alerts", params={"state": "firing"})).json()
        assert firing["data"] == []


async def test_a_new_functions_first_three_runs_failing_fire(clock: FakeClock) -> None:
    receiver = Receiver()
    async with InletTest(app({"yes": True}), settings=settings(HOOK), clock=clock) as inlet:
        await started(inlet, receiver)
        await fail(inlet, 2)
        await inlet.advance(INTERVAL)
        assert receiver.delivered() == []

        await fail(inlet, 1)
        await inlet.advance(INTERVAL)
        assert len(receiver.delivered()) == 1


async def test_a_failing_webhook_is_retried_with_backoff_until_it_answers(
    clock: FakeClock,
) -> None:
    receiver = Receiver()
    receiver.status = 500
    async with InletTest(app({"yes": True}), settings=settings(HOOK), clock=clock) as inlet:
        await started(inlet, receiver)
        await fail(inlet, 3)
        await inlet.advance(INTERVAL)
        assert len(receiver.received) == 1

        # The next attempts come 5 s, then 30 s, after a failure, at the next round.
        await inlet.advance(INTERVAL)
        assert len(receiver.received) == 2
        await inlet.advance(INTERVAL)
        assert len(receiver.received) == 2
        await inlet.advance(3 * INTERVAL)
        assert len(receiver.received) == 3

        receiver.status = 204
        await inlet.advance(130)
        assert len(receiver.received) == 4
        await inlet.advance(3600)
        assert len(receiver.received) == 4
        keys = {headers["Idempotency-Key"] for _, _, headers, _ in receiver.received}
        assert len(keys) == 1
        (stored,) = await inlet.store.list_alerts()
        assert stored.state == "firing"


async def test_an_alert_recorded_before_a_restart_is_delivered_after_it(
    clock: FakeClock,
) -> None:
    receiver = Receiver()
    receiver.status = 503
    inlet = InletTest(app({"yes": True}), settings=settings(HOOK), clock=clock)
    async with inlet:
        await started(inlet, receiver)
        await fail(inlet, 3)
        await inlet.advance(INTERVAL)
        assert len(receiver.received) == 1

    receiver.status = 200
    await inlet.start()
    try:
        await started(inlet, receiver)
        await inlet.advance(INTERVAL * 2)
        assert len(receiver.delivered()) == 1
        assert len(await inlet.store.list_alerts()) == 1
    finally:
        await inlet.stop()
