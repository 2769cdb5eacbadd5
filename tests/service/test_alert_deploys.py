"""``function.failing`` after a deploy, in fake time: a function that ran fine fails its
first runs after its app syncs again (the new code lacks a variable); the alert fires at
the third, without waiting for ten failures in a row, and resolves once a run completes."""

from __future__ import annotations

from inlet.alerts.rules import INTERVAL
from inlet.testing import Context, FakeClock, FakeSDK, InletTest


def shop(broken: dict[str, bool]) -> FakeSDK:
    sdk = FakeSDK("shop")

    @sdk.function("charge", event="shop/order", retries=0)
    async def charge(ctx: Context) -> str:
        def call() -> str:
            if broken["yes"]:
                raise KeyError("STRIPE_KEY")
            return "charged"

        charged: str = await ctx.step.run("call-stripe", call)
        return charged

    return sdk


async def orders(inlet: InletTest, count: int) -> None:
    for n in range(count):
        await inlet.send_one("shop/order", {"n": n})
        await inlet.advance(1)


async def test_the_first_runs_after_a_deploy_all_failing_fire_and_a_success_resolves(
    clock: FakeClock,
) -> None:
    broken = {"yes": False}
    sdk = shop(broken)
    async with InletTest(sdk, clock=clock) as inlet:
        await orders(inlet, 10)
        await inlet.advance(INTERVAL)

        broken["yes"] = True
        await inlet.register(sdk)  # the deploy: the app syncs again
        await orders(inlet, 2)
        await inlet.advance(INTERVAL)
        assert await inlet.store.list_alerts() == [], "two failures are not yet a pattern"

        await orders(inlet, 1)
        await inlet.advance(INTERVAL)
        (alert,) = await inlet.store.list_alerts()
        assert alert.rule == "function.failing" and alert.state == "firing"
        assert "the first 3 finished runs since its app synced" in alert.summary["message"]
        assert "STRIPE_KEY" in alert.summary["error"]

        broken["yes"] = False
        await orders(inlet, 1)
        await inlet.advance(INTERVAL)
        (resolved,) = await inlet.store.list_alerts()
        assert resolved.state == "resolved"
