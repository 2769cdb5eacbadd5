"""Operating on runs in fake time: rerun (from the start and from a step), pause and
resume with the skipped events replayed, and bulk replay and cancel that carry on after
an interruption without running anything twice."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pytest

from inlet.errors import Conflict, InvalidValue
from inlet.runs import bulk as bulk_module
from inlet.server import Server
from inlet.store.operations import PAUSED, BulkOp
from inlet.testing import Context, FakeClock, FakeSDK, InletTest


def pipeline_app(clock: FakeClock, calls: list[str], broken: set[str]) -> FakeSDK:
    """``load`` then ``embed``; ``embed`` fails while it is in ``broken``."""
    sdk = FakeSDK("ops", clock=clock)

    @sdk.function("pipeline", event="ops/pipeline", retries=0)
    async def pipeline(ctx: Context) -> dict[str, Any]:
        def load() -> dict[str, Any]:
            calls.append("load")
            return {"rows": ctx.event["data"].get("n", 0), "loaded_at": len(calls)}

        loaded: dict[str, Any] = await ctx.step.run("load", load)

        def embed() -> int:
            calls.append("embed")
            if "embed" in broken:
                raise RuntimeError("expected 384 dimensions, got 1536")
            return int(loaded["rows"]) * 2

        vectors: int = await ctx.step.run("embed", embed)
        return {"loaded_at": loaded["loaded_at"], "vectors": vectors}

    @sdk.function("sleeper", event="ops/sleep", retries=0)
    async def sleeper(ctx: Context) -> str:
        await ctx.step.sleep("nap", 3600)
        return "woke"

    return sdk


def server(inlet: InletTest) -> Server:
    assert inlet.app is not None
    found: Server = inlet.app.state.server
    return found


async def finish_bulk(inlet: InletTest, op_id: str, limit: int = 50) -> BulkOp:
    """Step the bulk runner until the operation ends, letting the runs it made run."""
    srv = server(inlet)
    for _ in range(limit):
        op = await srv.bulk.get(op_id)
        if op.finished:
            return op
        await srv.bulk.step()
        await inlet.settle()
    raise AssertionError(f"bulk operation {op_id} did not finish in {limit} steps")


async def test_a_rerun_from_the_start_runs_every_step_again(clock: FakeClock) -> None:
    calls: list[str] = []
    broken = {"embed"}
    async with InletTest(pipeline_app(clock, calls, broken), clock=clock) as inlet:
        (failed,) = await inlet.runs(await inlet.send_one("ops/pipeline", {"n": 3}))
        assert failed["status"] == "Failed"
        broken.clear()

        new_id = await server(inlet).rerunner.rerun(failed["run_id"], clock.now())
        await inlet.settle()

        rerun = await inlet.run(new_id)
        assert rerun["status"] == "Completed", rerun
        assert rerun["output"]["vectors"] == 6
        assert calls == ["load", "embed", "load", "embed"]


async def test_a_rerun_from_a_step_keeps_the_outputs_of_the_steps_before_it(
    clock: FakeClock,
) -> None:
    calls: list[str] = []
    broken = {"embed"}
    async with InletTest(pipeline_app(clock, calls, broken), clock=clock) as inlet:
        (failed,) = await inlet.runs(await inlet.send_one("ops/pipeline", {"n": 4}))
        broken.clear()

        new_id = await server(inlet).rerunner.rerun(failed["run_id"], clock.now(), "embed")
        await inlet.settle()

        rerun = await inlet.run(new_id)
        assert rerun["status"] == "Completed", rerun
        # load did not run again: its first output (made at call 1) was kept.
        assert calls == ["load", "embed", "embed"]
        assert rerun["output"] == {"loaded_at": 1, "vectors": 8}


async def test_a_rerun_from_a_step_the_run_never_had_names_the_steps_it_had(
    clock: FakeClock,
) -> None:
    calls: list[str] = []
    async with InletTest(pipeline_app(clock, calls, {"embed"}), clock=clock) as inlet:
        (failed,) = await inlet.runs(await inlet.send_one("ops/pipeline", {"n": 1}))
        with pytest.raises(InvalidValue, match=r"'save'.*'load'.*'embed'"):
            await server(inlet).rerunner.rerun(failed["run_id"], clock.now(), "save")


async def test_a_paused_function_skips_events_and_a_replay_runs_them_once_resumed(
    clock: FakeClock,
) -> None:
    calls: list[str] = []
    async with InletTest(pipeline_app(clock, calls, set()), clock=clock) as inlet:
        srv = server(inlet)
        (before,) = await inlet.runs(await inlet.send_one("ops/pipeline", {"n": 0}))
        calls.clear()
        paused = await srv.pauser.pause("ops-pipeline")
        assert paused.paused_at == clock.now()

        event_ids = [await inlet.send_one("ops/pipeline", {"n": n}) for n in range(3)]
        assert [await inlet.runs(e) for e in event_ids] == [[], [], []]
        assert calls == []
        skips = await srv.store.skips(event_ids[0])
        assert [(s.function_slug, s.reason) for s in skips] == [("ops-pipeline", PAUSED)]
        with pytest.raises(Conflict, match="is paused"):
            await srv.rerunner.rerun(before["run_id"], clock.now())

        await srv.pauser.resume("ops-pipeline")
        draft = srv.bulk.draft("replay", "ops-pipeline", ["Skipped"], None, None, "after pause")
        assert await srv.bulk.count(draft) == 3
        op = await finish_bulk(inlet, (await srv.bulk.create(draft)).id)

        assert (op.state, op.total, op.done, op.changed) == ("done", 3, 3, 3)
        for event_id in event_ids:
            (run,) = await inlet.runs(event_id)
            assert run["status"] == "Completed", run
        assert calls.count("embed") == 3


async def test_a_bulk_replay_interrupted_midway_finishes_without_running_a_run_twice(
    clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk_module, "PAGE", 2)
    calls: list[str] = []
    broken = {"embed"}
    async with InletTest(pipeline_app(clock, calls, broken), clock=clock) as inlet:
        srv = server(inlet)
        failed = [await inlet.send_one("ops/pipeline", {"n": n}) for n in range(5)]
        broken.clear()
        ok = await inlet.send_one("ops/pipeline", {"n": 9})
        assert (await inlet.runs(ok))[0]["status"] == "Completed"
        broken.add("embed")  # the replays fail again: the outage is not over yet
        await inlet.advance(60)  # the operator starts the replay a minute later

        await srv.bulk.stop()  # this test takes the steps the background loop would
        draft = srv.bulk.draft("replay", "ops-pipeline", ["Failed"], None, None, "PR 958")
        op = await srv.bulk.create(draft)
        assert op.total == 5
        await srv.bulk.step()
        await inlet.settle()
        first = await srv.bulk.get(op.id)
        assert (first.done, first.changed) == (2, 2)

        # The process dies after making the runs of the next page but before storing its
        # progress: the operation carries on from the older cursor.
        await srv.bulk.step()
        await inlet.settle()
        await srv.store.update_bulk(replace(await srv.bulk.get(op.id), cursor=first.cursor))
        done = await finish_bulk(inlet, op.id)

        assert done.state == "done" and done.done == 5
        per_event = [len(await inlet.runs(e)) for e in failed]
        assert per_event == [2, 2, 2, 2, 2], "each failed run replayed exactly once"
        assert done.changed == 5


async def test_the_background_loop_carries_a_bulk_operation_to_its_end(clock: FakeClock) -> None:
    async with InletTest(pipeline_app(clock, [], {"embed"}), clock=clock) as inlet:
        srv = server(inlet)
        failed = await inlet.send_one("ops/pipeline", {"n": 2})
        await inlet.advance(60)
        op = await srv.bulk.create(srv.bulk.draft("replay", "ops-pipeline", ["failed"], None, None))

        async def finished() -> bool:
            return (await srv.bulk.get(op.id)).finished

        for _ in range(200):  # bounded: the loop is woken at once, each look is quick
            if await finished():
                break
            await asyncio.sleep(0.01)
        assert (await srv.bulk.get(op.id)).state == "done"
        await inlet.settle()
        assert len(await inlet.runs(failed)) == 2


async def test_a_bulk_cancel_ends_the_sleeping_runs_and_reports_progress(
    clock: FakeClock,
) -> None:
    async with InletTest(pipeline_app(clock, [], set()), clock=clock) as inlet:
        srv = server(inlet)
        sleeping = [await inlet.send_one("ops/sleep") for _ in range(3)]
        for event_id in sleeping:
            assert (await inlet.runs(event_id))[0]["status"] == "Running"
        await inlet.advance(60)

        draft = srv.bulk.draft("cancel", "ops-sleeper", ["Running", "Queued"], None, None)
        done = await finish_bulk(inlet, (await srv.bulk.create(draft)).id)

        assert (done.state, done.total, done.changed) == ("done", 3, 3)
        for event_id in sleeping:
            assert (await inlet.runs(event_id))[0]["status"] == "Cancelled"
        with pytest.raises(InvalidValue, match="Skipped"):
            srv.bulk.draft("cancel", "ops-sleeper", ["Skipped"], None, None)


async def test_pausing_with_cancel_running_cancels_the_runs_under_way(clock: FakeClock) -> None:
    async with InletTest(pipeline_app(clock, [], set()), clock=clock) as inlet:
        srv = server(inlet)
        event_id = await inlet.send_one("ops/sleep")
        state = await srv.pauser.pause("ops-sleeper", cancel_running=True)
        await inlet.settle()

        (run,) = await inlet.runs(event_id)
        assert state.cancelled == (run["run_id"],)
        assert run["status"] == "Cancelled"
        await srv.pauser.resume("ops-sleeper")
        assert (await srv.pauser.state("ops-sleeper")).paused_at is None
