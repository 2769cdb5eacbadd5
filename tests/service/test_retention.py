"""Retention in fake time: finished runs, their history and events go once past their
limit (a function's own or the global one), swept by the server's own loop; runs in flight
and waiting runs stay, whatever their age."""

from __future__ import annotations

from typing import Any

from inlet.config import Settings
from inlet.testing import Context, FakeClock, FakeSDK, InletTest

HOUR = 3600.0
DAY = 24 * HOUR


def app() -> FakeSDK:
    sdk = FakeSDK("keep")

    @sdk.function("three", event="keep/three")
    async def three(ctx: Context) -> int:
        total = 0
        for step in ("a", "b", "c"):
            total += await ctx.step.run(step, lambda: 1)
        return total

    @sdk.function("brief", event="keep/brief")
    async def brief(ctx: Context) -> str:
        return await ctx.step.run("only", lambda: "done")

    @sdk.function("sleeper", event="keep/sleep")
    async def sleeper(ctx: Context) -> str:
        await ctx.step.sleep("nap", 3 * DAY)
        return "rested"

    @sdk.function("waiter", event="keep/wait")
    async def waiter(ctx: Context) -> Any:
        return await ctx.step.wait_for_event("w", event="keep/go", within=3 * DAY)

    return sdk


def settings() -> Settings:
    return Settings(
        database_url="memory://",
        discovery=False,
        retention=DAY,
        retention_for=(("keep-brief", HOUR),),
    )


async def jump(inlet: InletTest, seconds: float) -> None:
    """Move the clock at once (``advance`` would stop at every poll on the way, and days
    of polls take a while), then let every loop that was due do its work."""
    inlet.clock.advance(seconds)
    await inlet.advance(61)


async def run_of(inlet: InletTest, event_id: str) -> str:
    (run,) = await inlet.runs(event_id)
    return str(run["run_id"])


async def test_finished_runs_go_after_their_limit_and_runs_in_flight_stay(
    clock: FakeClock,
) -> None:
    async with InletTest(app(), settings=settings(), clock=clock) as inlet:
        three = await inlet.send_one("keep/three")
        brief = await inlet.send_one("keep/brief")
        sleeper = await inlet.send_one("keep/sleep")
        waiter = await inlet.send_one("keep/wait")
        runs = {e: await run_of(inlet, e) for e in (three, brief, sleeper, waiter)}
        assert (await inlet.run(runs[three]))["status"] == "Completed"
        assert len(await inlet.history(runs[three])) >= 4

        await jump(inlet, 2 * HOUR)  # past brief's own limit, not the global one
        assert await inlet.store.get_run(runs[brief]) is None
        assert await inlet.store.get_event(brief) is None
        assert await inlet.store.get_run(runs[three]) is not None

        await jump(inlet, DAY)  # past the global limit
        assert await inlet.store.get_run(runs[three]) is None
        assert await inlet.store.history(runs[three]) == []
        assert await inlet.store.get_event(three) is None
        for waiting in (sleeper, waiter):
            assert await inlet.store.get_run(runs[waiting]) is not None, "still in flight"
            assert await inlet.store.get_event(waiting) is not None

        await jump(inlet, 2 * DAY)  # the nap and the wait end; their runs finish
        assert (await inlet.run(runs[sleeper]))["status"] == "Completed"
        await jump(inlet, DAY + HOUR)
        assert await inlet.store.get_run(runs[sleeper]) is None
        assert await inlet.store.get_run(runs[waiter]) is None


async def test_a_retention_of_zero_keeps_everything(clock: FakeClock) -> None:
    kept = Settings(database_url="memory://", discovery=False, retention=0)
    async with InletTest(app(), settings=kept, clock=clock) as inlet:
        event_id = await inlet.send_one("keep/three")
        run_id = await run_of(inlet, event_id)
        assert inlet.app is not None and inlet.app.state.server.retention.interval == 0
        await jump(inlet, 30 * DAY)
        assert await inlet.store.get_run(run_id) is not None
        assert await inlet.store.get_event(event_id) is not None
