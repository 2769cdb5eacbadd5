"""A sleep ends at its due time even when the dispatcher last paused after claiming work:
the pause is bounded by the next due item, not only by the idle poll. Since each finished
call no longer wakes the dispatcher, a timer that came due during a busy pause used to wait
for the poll (up to a second late in bench W3)."""

from __future__ import annotations

from typing import Any

from inlet.testing import Context, FakeClock, FakeSDK, InletTest

T0 = 1_800_000_000.0


class Sleeper:
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.sdk = FakeSDK("timer-wake", clock=clock)
        self.after: list[float] = []

        @self.sdk.function("nap", event="wake/nap")
        async def nap(ctx: Context) -> None:
            await ctx.step.sleep("half", 0.5)
            await ctx.step.run("after", self._stamp)

        @self.sdk.function("busy", event="wake/busy")
        async def busy(ctx: Context) -> Any:
            return await ctx.step.run("work", lambda: 1)

    def _stamp(self) -> float:
        self.after.append(self.clock.now())
        return self.clock.now()


async def test_a_timer_due_after_a_claim_of_other_work_fires_at_its_due_time() -> None:
    clock = FakeClock(T0)
    app = Sleeper(clock)
    async with InletTest(app.sdk, clock=clock) as inlet:
        await inlet.send({"name": "wake/nap", "data": {}})
        # Other work claimed while the sleep is pending: the dispatcher's pause after this
        # claim must still end when the sleep is due.
        await inlet.send({"name": "wake/busy", "data": {}})
        assert app.after == []
        await inlet.advance(0.5)
        assert app.after == [T0 + 0.5]
