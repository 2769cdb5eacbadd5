"""The newest SDK opcodes through the whole server on a fake clock: a deferred run starts
once when its parent ends, however often replay reports it, and an aborted one never
starts; ``step.fetch`` is made by the server against a small HTTP server on 127.0.0.1
started here, its response (any status) the step's result, and a refused connection or a
response too slow the step's error."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from inlet.steps import gateway
from inlet.testing import Context, FakeClock, FakeSDK, InletTest, StepError
from ports import free_port

SCHEDULE = "inngest/deferred.schedule"


def sha1(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


def deferring_app(clock: FakeClock, seen: list[dict[str, Any]]) -> FakeSDK:
    sdk = FakeSDK("svc", clock=clock)
    scorer = sdk.slug("scorer")

    @sdk.function("scorer", event=SCHEDULE, expression=f"event.data._inngest.fn_slug == '{scorer}'")
    async def score(ctx: Context) -> dict[str, Any]:
        seen.append(ctx.event)
        return {"scored": ctx.event["data"]["n"]}

    @sdk.function("parent", event="svc/parent")
    async def parent(ctx: Context) -> str:
        ctx.defer("score", scorer, {"n": 1}, meta={"sessions": {"chat": "c-1"}})
        cancel = ctx.defer("cleanup", scorer, {"n": 2})
        await ctx.step.run("a", lambda: "a")
        await ctx.step.run("b", lambda: "b")
        cancel()
        return "done"

    @sdk.function("forgetful", event="svc/forgetful")
    async def forgetful(ctx: Context) -> str:
        # An SDK that does not read the call request's defers reports the defer again
        # at every replay.
        ctx.prior_defers = {}
        ctx.defer("once", scorer, {"n": 3})
        await ctx.step.run("a", lambda: "a")
        await ctx.step.run("b", lambda: "b")
        return "done"

    return sdk


async def test_a_defer_starts_once_when_its_parent_ends_and_an_aborted_one_never(
    clock: FakeClock,
) -> None:
    seen: list[dict[str, Any]] = []
    async with InletTest(deferring_app(clock, seen), clock=clock) as inlet:
        (parent,) = await inlet.runs(await inlet.send_one("svc/parent"))
        (forgetful,) = await inlet.runs(await inlet.send_one("svc/forgetful"))
        await inlet.advance(5)
        assert (await inlet.run(parent["run_id"]))["status"] == "Completed"
        assert (await inlet.run(forgetful["run_id"]))["status"] == "Completed"
        schedules = await inlet.events(SCHEDULE)
        actions = (await inlet.http.get(f"/v0/runs/{parent['run_id']}/actions")).json()

    assert sorted(e["data"]["n"] for e in seen) == [1, 3], seen
    by_n = {e["data"]["n"]: e for e in seen}
    assert by_n[1]["data"]["_inngest"] == {
        "fn_slug": "svc-scorer",
        "parent_fn_slug": "svc-parent",
        "parent_run_id": parent["run_id"],
    }
    assert by_n[1]["meta"] == {"sessions": {"chat": "c-1"}}
    assert len(schedules) == 2, schedules
    # What an SDK fetches for a large run (use_api) holds the steps, not the defers.
    assert set(actions) == {sha1("a"), sha1("b")}, actions


@pytest.fixture
async def site() -> AsyncIterator[tuple[str, asyncio.Event]]:
    """A small HTTP server on 127.0.0.1: ``/hello`` answers, ``/missing`` is a 404 and
    ``/slow`` answers only once the returned event is set (at teardown)."""
    release = asyncio.Event()

    async def hello(request: web.Request) -> web.Response:
        body = await request.text()
        return web.Response(text=f"hello {request.method} {body}", headers={"x-site": "1"})

    async def missing(request: web.Request) -> web.Response:
        return web.Response(status=404, text="no such page")

    async def slow(request: web.Request) -> web.Response:
        await release.wait()
        return web.Response(text="late")

    app = web.Application()
    app.router.add_route("*", "/hello", hello)
    app.router.add_route("*", "/missing", missing)
    app.router.add_route("*", "/slow", slow)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}", release
    finally:
        release.set()
        await runner.cleanup()


def fetching_app(clock: FakeClock, url: str) -> FakeSDK:
    sdk = FakeSDK("gw", clock=clock)

    @sdk.function("fetch", event="gw/fetch", retries=0)
    async def fetch(ctx: Context) -> Any:
        try:
            return await ctx.step.fetch(url + ctx.event["data"]["path"], method="POST", body="x")
        except StepError as exc:
            return {"error": exc.name, "message": exc.message}

    return sdk


async def fetched(clock: FakeClock, base: str, path: str) -> Any:
    async with InletTest(fetching_app(clock, base), clock=clock) as inlet:
        (run,) = await inlet.runs(await inlet.send_one("gw/fetch", {"path": path}))
        for _ in range(100):
            run = await inlet.run(run["run_id"])
            if run["status"] != "Running":
                break
            await inlet.advance(1)
        assert run["status"] == "Completed", run
        return run["output"]


async def test_step_fetch_is_made_by_the_server_and_its_response_is_the_step_result(
    clock: FakeClock, site: tuple[str, asyncio.Event]
) -> None:
    base, _ = site
    output = await fetched(clock, base, "/hello")
    assert output["status_code"] == 200
    assert output["body"] == "hello POST x"
    assert output["headers"]["x-site"] == "1"
    missing = await fetched(clock, base, "/missing")
    assert (missing["status_code"], missing["body"]) == (404, "no such page")


async def test_a_refused_connection_is_the_steps_error(clock: FakeClock) -> None:
    output = await fetched(clock, f"http://127.0.0.1:{free_port()}", "/nothing")
    assert output["error"] == "GatewayError"
    assert "the request failed" in output["message"], output


async def test_a_response_slower_than_the_limit_is_the_steps_error(
    clock: FakeClock, site: tuple[str, asyncio.Event], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gateway, "TIMEOUT", 0.5)
    base, _ = site
    output = await fetched(clock, base, "/slow")
    assert output["error"] == "GatewayError"
    assert "no response within 0.5s" in output["message"], output


async def test_a_response_over_the_size_limit_is_the_steps_error(
    clock: FakeClock, site: tuple[str, asyncio.Event], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gateway, "MAX_RESPONSE_BYTES", 5)
    base, _ = site
    output = await fetched(clock, base, "/hello")
    assert output["error"] == "GatewayError"
    assert "larger than 5 bytes" in output["message"], output
