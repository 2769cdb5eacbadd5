"""Retries in fake time: ``retries=0`` fails after exactly one attempt, ``Retry-After``
delays the next attempt by the time asked for, and the backoff table spaces attempts."""

from __future__ import annotations

import itertools
from typing import Any

from inlet.steps.backoff import RetryPolicy
from inlet.testing import Context, FakeClock, FakeSDK, InletTest, RetryAfterError

RETRY_AFTER_SECONDS = 1.5
# Any retry the server wrongly scheduled would happen well within this.
SETTLE_SECONDS = 2.0


def retries_app(clock: FakeClock, executions: list[dict[str, Any]]) -> FakeSDK:
    sdk = FakeSDK("accept", clock=clock)

    @sdk.function("no-retries", event="accept/no-retries", retries=0)
    async def no_retries(ctx: Context) -> None:
        executions.append({"fn": "no-retries", "attempt": ctx.attempt, "t": clock.now()})
        raise RuntimeError("no-retries always fails")

    @sdk.function("retry-after", event="accept/retry-after", retries=3)
    async def retry_after(ctx: Context) -> dict[str, Any]:
        before = sum(1 for e in executions if e["fn"] == "retry-after")
        executions.append({"fn": "retry-after", "attempt": ctx.attempt, "t": clock.now()})
        if before == 0:
            raise RetryAfterError("come back later", RETRY_AFTER_SECONDS)
        return {"executions": before + 1}

    @sdk.function("flaky", event="accept/flaky", retries=3)
    async def flaky(ctx: Context) -> dict[str, Any]:
        def attempt() -> dict[str, Any]:
            before = sum(1 for e in executions if e["fn"] == "flaky")
            executions.append({"fn": "flaky", "attempt": ctx.attempt, "t": clock.now()})
            if before < 2:
                raise RuntimeError(f"flaky failure number {before + 1}")
            return {"attempt": ctx.attempt, "executions": before + 1}

        result: dict[str, Any] = await ctx.step.run("flaky", attempt)
        return result

    return sdk


async def test_a_function_with_retries_zero_fails_after_exactly_one_attempt(
    clock: FakeClock,
) -> None:
    executions: list[dict[str, Any]] = []
    async with InletTest(retries_app(clock, executions), clock=clock) as inlet:
        (run,) = await inlet.runs(await inlet.send_one("accept/no-retries"))

        assert run["status"] == "Failed", run
        await inlet.advance(SETTLE_SECONDS)
        assert len(executions) == 1, executions
        rows = await inlet.history(run["run_id"])
        assert [r["attempt"] for r in rows] == [0], rows
        assert (await inlet.run(run["run_id"]))["status"] == "Failed"


async def test_a_retry_after_error_delays_the_retry_by_at_least_the_requested_time(
    clock: FakeClock,
) -> None:
    executions: list[dict[str, Any]] = []
    async with InletTest(retries_app(clock, executions), clock=clock) as inlet:
        (run,) = await inlet.runs(await inlet.send_one("accept/retry-after"))

        await inlet.advance(RETRY_AFTER_SECONDS - 0.1)
        assert len(executions) == 1, executions
        await inlet.advance(0.1)

        run = await inlet.run(run["run_id"])
        assert run["status"] == "Completed", run
        assert run["output"] == {"executions": 2}
        first, second = executions
        assert second["t"] - first["t"] >= RETRY_AFTER_SECONDS - 0.01, (first, second)


async def test_a_failing_step_is_retried_after_the_backoff_tables_delays(
    clock: FakeClock,
) -> None:
    executions: list[dict[str, Any]] = []
    async with InletTest(retries_app(clock, executions), clock=clock) as inlet:
        (run,) = await inlet.runs(await inlet.send_one("accept/flaky"))
        # The table's delays with the most jitter: no retry may come later than these.
        policy = RetryPolicy(None)
        await inlet.advance(policy.delay(0, 1.0) + policy.delay(1, 1.0))

        run = await inlet.run(run["run_id"])
        assert run["status"] == "Completed", run
        assert run["output"] == {"attempt": 2, "executions": 3}
        assert [e["attempt"] for e in executions] == [0, 1, 2]
        gaps = [b["t"] - a["t"] for a, b in itertools.pairwise(executions)]
        for attempt, gap in enumerate(gaps):
            low, high = policy.delay(attempt, 0.0), policy.delay(attempt, 1.0)
            assert min(low, high) <= gap <= max(low, high), (attempt, gap, low, high)
