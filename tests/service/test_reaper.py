"""The reaper in fake time: a run whose queued work was lost is revived and completes
from its memos; one that keeps getting stuck is cancelled with a reason that says so."""

from __future__ import annotations

from typing import Any

from inlet.runs.reaper import INTERVAL, MAX_REVIVALS
from inlet.server import Server
from inlet.store.memory import MemoryStore
from inlet.testing import Context, FakeClock, FakeSDK, InletTest


def sleeper_app(clock: FakeClock, calls: list[str]) -> FakeSDK:
    sdk = FakeSDK("reap", clock=clock)

    @sdk.function("nap", event="reap/go", retries=0)
    async def nap(ctx: Context) -> dict[str, Any]:
        def load() -> int:
            calls.append("load")
            return 7

        value: int = await ctx.step.run("load", load)
        await ctx.step.sleep("rest", 3600)
        return {"value": value}

    return sdk


def server(inlet: InletTest) -> Server:
    assert inlet.app is not None
    found: Server = inlet.app.state.server
    return found


async def test_a_run_whose_work_was_lost_is_revived_and_completes_from_its_memos(
    clock: FakeClock,
) -> None:
    calls: list[str] = []
    store = MemoryStore()
    async with InletTest(sleeper_app(clock, calls), clock=clock, store=store) as inlet:
        (run,) = await inlet.runs(await inlet.send_one("reap/go"))
        assert run["status"] == "Running" and calls == ["load"]
        store._tx.drop_run_items(run["run_id"])  # the sleep's timer is lost

        grace = server(inlet).settings.stuck_after
        await inlet.advance(grace + INTERVAL)
        await inlet.advance(3600)

        done = await inlet.run(run["run_id"])
        assert done["status"] == "Completed" and done["output"] == {"value": 7}, done
        assert calls == ["load"], "the step that had completed was not run again"
        outcomes = [r["outcome"] for r in await inlet.history(run["run_id"])]
        assert "revived" in outcomes


async def test_a_run_that_keeps_getting_stuck_is_cancelled_saying_why(clock: FakeClock) -> None:
    store = MemoryStore()
    async with InletTest(sleeper_app(clock, []), clock=clock, store=store) as inlet:
        reaper = server(inlet).reaper
        (run,) = await inlet.runs(await inlet.send_one("reap/go"))
        await inlet.advance(server(inlet).settings.stuck_after + 1)
        for _ in range(MAX_REVIVALS):
            store._tx.drop_run_items(run["run_id"])
            revived, _ = await reaper.sweep()
            assert revived == [run["run_id"]]
            store._tx.drop_run_items(run["run_id"])  # lost again before it could move
        _, cancelled = await reaper.sweep()
        assert cancelled == [run["run_id"]]
        ended = await inlet.run(run["run_id"])
        assert ended["status"] == "Cancelled"
        assert "stuck" in str(ended["output"]) and "reaper" in str(ended["output"]), ended


async def test_the_stuck_runs_are_listed_over_rest(clock: FakeClock) -> None:
    store = MemoryStore()
    async with InletTest(sleeper_app(clock, []), clock=clock, store=store) as inlet:
        (run,) = await inlet.runs(await inlet.send_one("reap/go"))
        (other,) = await inlet.runs(await inlet.send_one("reap/go"))
        store._tx.drop_run_items(run["run_id"])
        await inlet.advance(61)

        resp = await inlet.http.get("/v1/runs", params={"stuck": "true"})
        assert [r["run_id"] for r in resp.json()["data"]] == [run["run_id"]], resp.text
        bad = await inlet.http.get("/v1/runs", params={"stuck": "maybe"})
        assert bad.status_code == 400 and "stuck='maybe'" in bad.json()["error"]
        assert other["run_id"] != run["run_id"]
