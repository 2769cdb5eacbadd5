"""The test doubles of ``inlet.testing`` themselves: the fake clock wakes exactly what is
due, settle notices work in flight, the ASGI transport reports a broken app as a failed
call, and the fake SDK replays memoised steps as the SDKs do."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from inlet.testing import (
    ASGITransport,
    Context,
    FakeClock,
    FakeSDK,
    InletTest,
    NonRetriableError,
    StepError,
    sign,
    verify,
)

from .conftest import T0


async def test_advancing_the_fake_clock_wakes_the_sleepers_that_are_due_and_no_others(
    clock: FakeClock,
) -> None:
    woke: list[str] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append(name)

    tasks = [asyncio.create_task(sleeper(n, s)) for n, s in (("short", 1), ("long", 5))]
    await asyncio.sleep(0)
    assert clock.next_deadline() == T0 + 1

    clock.advance(1)
    await asyncio.sleep(0)
    await asyncio.sleep(0)

    assert woke == ["short"]
    assert clock.next_deadline() == T0 + 5
    clock.advance(4)
    await asyncio.gather(*tasks)
    assert woke == ["short", "long"]


async def test_a_wait_on_the_fake_clock_ends_at_the_event_or_at_its_deadline(
    clock: FakeClock,
) -> None:
    event = asyncio.Event()
    set_early = asyncio.create_task(clock.wait(event, 10))
    await asyncio.sleep(0)
    event.set()
    assert await set_early is True

    quiet = asyncio.Event()
    timed_out = asyncio.create_task(clock.wait(quiet, 10))
    await asyncio.sleep(0)
    clock.advance(10)
    assert await timed_out is False
    assert clock.next_deadline() is None


def test_the_fake_clock_refuses_to_go_back(clock: FakeClock) -> None:
    with pytest.raises(ValueError, match="cannot go back"):
        clock.advance(-1)
    with pytest.raises(ValueError, match="cannot go back"):
        clock.set(T0 - 1)


async def test_the_asgi_transport_turns_a_raising_app_or_an_unknown_origin_into_a_failed_call() -> (
    None
):
    async def broken(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("boom")

    transport = ASGITransport({"http://app.test": broken})

    reply = await transport.post("http://app.test/api?fnId=x", b"{}", {})
    elsewhere = await transport.post("http://other.test/api", b"{}", {})

    assert reply.status == 0 and reply.error == "the app raised RuntimeError: boom", reply
    assert elsewhere.status == 0 and "no app in this test serves" in str(elsewhere.error)


def test_sign_gives_the_signature_that_verify_accepts() -> None:
    key = "signkey-test-" + "ab" * 32
    header = sign(b'{"a":1}', key, T0)

    assert header.startswith(f"t={int(T0)}&s=")
    assert verify(header, b'{"a":1}', [key], T0)
    assert not verify(header, b'{"a":2}', [key], T0)


async def test_the_fake_sdk_runs_each_step_body_once_and_replays_its_result(
    clock: FakeClock,
) -> None:
    sdk = FakeSDK("svc", clock=clock)
    bodies: list[str] = []

    @sdk.function("steps", event="svc/steps")
    async def steps(ctx: Context) -> dict[str, Any]:
        def body(name: str) -> Any:
            return lambda: bodies.append(name) or name.upper()

        a = await ctx.step.run("a", body("a"))
        again = await ctx.step.run("a", body("a again"))
        b = await ctx.step.run("b", body("b"))
        return {"a": a, "again": again, "b": b}

    async with InletTest(sdk, clock=clock) as inlet:
        (run,) = await inlet.runs(await inlet.send_one("svc/steps"))

    assert run["status"] == "Completed", run
    assert run["output"] == {"a": "A", "again": "A AGAIN", "b": "B"}
    assert bodies == ["a", "a again", "b"]
    assert len(sdk.calls) == 4, sdk.calls


async def test_a_step_that_fails_for_good_raises_step_error_in_the_function(
    clock: FakeClock,
) -> None:
    sdk = FakeSDK("svc", clock=clock)

    @sdk.function("fails", event="svc/fails", retries=0)
    async def fails(ctx: Context) -> dict[str, Any]:
        def boom() -> None:
            raise ValueError("bad input")

        try:
            await ctx.step.run("boom", boom)
        except StepError as exc:
            return {"name": exc.name, "message": exc.message}
        return {}

    @sdk.function("gives-up", event="svc/gives-up", retries=3)
    async def gives_up(ctx: Context) -> None:
        raise NonRetriableError("give up now")

    async with InletTest(sdk, clock=clock) as inlet:
        (caught,) = await inlet.runs(await inlet.send_one("svc/fails"))
        (failed,) = await inlet.runs(await inlet.send_one("svc/gives-up"))
        await inlet.advance(60)
        rows = await inlet.history(failed["run_id"])

    assert caught["status"] == "Completed", caught
    assert caught["output"] == {"name": "ValueError", "message": "bad input"}
    assert failed["status"] == "Failed", failed
    assert len(rows) == 1 and "give up now" in str(rows[0]["error"]), rows


async def test_settle_fails_when_a_call_never_finishes(clock: FakeClock) -> None:
    sdk = FakeSDK("svc", clock=clock)
    never = asyncio.Event()

    @sdk.function("stuck", event="svc/stuck")
    async def stuck(ctx: Context) -> None:
        await never.wait()

    async with InletTest(sdk, clock=clock) as inlet:
        await inlet.http.post("/e/key", json={"name": "svc/stuck", "data": {}})
        with pytest.raises(AssertionError, match="still busy"):
            await inlet.settle(limit=0.2)
