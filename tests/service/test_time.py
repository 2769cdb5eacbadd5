"""Time and control in fake time: durable sleeps, waits for events, invoke timeouts,
cancellation (by event, by API, in bulk) and run timeouts. Where the acceptance tests wait
for real seconds to pass, these move the clock, so the bounds are exact."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from inlet.testing import Context, FakeClock, FakeSDK, InletTest, StepError

from .conftest import T0

CANCELLABLE_SLEEP = 4.0
FINISH_TIMEOUT = 2.0
FINISH_TIMEOUT_SLEEP = 5.0
INVOKE_TIMEOUT = 2.0
CHILD_SLEEP = 10.0


class TimeApp:
    """The functions of the acceptance ``accept-time`` app that need time to pass, with a
    journal of every step body that ran (``steps``) at the clock's time."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.sdk = FakeSDK("accept-time", clock=clock)
        self.steps: list[dict[str, Any]] = []
        self.waited: list[dict[str, Any]] = []
        self.invoke_errors: list[dict[str, Any]] = []
        self._define()

    def count(self, fn: str, step: str, key: str | None = None) -> int:
        return sum(
            1
            for s in self.steps
            if s["fn"] == fn and s["step"] == step and (key is None or s["key"] == key)
        )

    def _clock_step(self, fn: str, step: str, key: str) -> Any:
        def body() -> float:
            self.steps.append({"fn": fn, "step": step, "key": key, "at": self.clock.now()})
            return self.clock.now()

        return body

    def _define(self) -> None:
        sdk, clock_step = self.sdk, self._clock_step

        @sdk.function("sleep-until", event="time/sleep-until")
        async def sleep_until(ctx: Context) -> dict[str, Any]:
            key, until = ctx.event["data"]["key"], float(ctx.event["data"]["until"])
            before = await ctx.step.run("before", clock_step("sleep-until", "before", key))
            await ctx.step.sleep_until("nap", until)
            after = await ctx.step.run("after", clock_step("sleep-until", "after", key))
            return {"before": before, "after": after, "until": until}

        @sdk.function("waiter", event="time/wait")
        async def waiter(ctx: Context) -> dict[str, Any]:
            data = ctx.event["data"]
            started = await ctx.step.run("before", clock_step("waiter", "before", data["key"]))
            got = await ctx.step.wait_for_event(
                "wait",
                event="time/go",
                within=float(data.get("timeout_s", 60)),
                if_exp="event.data.id == async.data.id",
            )
            received = None if got is None else {k: got[k] for k in ("id", "name", "data")}

            def note() -> float:
                self.waited.append({"key": data["key"], "received": received})
                return self.clock.now()

            resumed = await ctx.step.run("got", note)
            return {"received": received, "started": started, "resumed": resumed}

        @sdk.function("child-slow", event="time/child-slow")
        async def child_slow(ctx: Context) -> str:
            key = ctx.event["data"]["key"]
            await ctx.step.sleep("slow", CHILD_SLEEP)
            await ctx.step.run("done", clock_step("child-slow", "done", key))
            return f"slow-{key}"

        @sdk.function("invoker", event="time/invoke")
        async def invoker(ctx: Context) -> Any:
            key = ctx.event["data"]["key"]
            try:
                return await ctx.step.invoke(
                    "call",
                    function_id=sdk.slug("child-slow"),
                    data={"key": key},
                    within=INVOKE_TIMEOUT,
                )
            except StepError as exc:
                error = {"caught": "StepError", "name": exc.name, "message": exc.message}
                self.invoke_errors.append({"key": key, "at": self.clock.now(), **error})
                return error

        @sdk.function(
            "cancellable",
            event="time/cancellable",
            cancel=[{"event": "time/cancel", "if": "event.data.id == async.data.id"}],
        )
        async def cancellable(ctx: Context) -> dict[str, Any]:
            data = ctx.event["data"]
            before = await ctx.step.run("before", clock_step("cancellable", "before", data["key"]))
            await ctx.step.sleep("nap", float(data.get("seconds", CANCELLABLE_SLEEP)))
            after = await ctx.step.run("after", clock_step("cancellable", "after", data["key"]))
            return {"before": before, "after": after}

        @sdk.function("sleeper", event="time/sleep")
        async def sleeper(ctx: Context) -> dict[str, Any]:
            data = ctx.event["data"]
            before = await ctx.step.run("before", clock_step("sleeper", "before", data["key"]))
            await ctx.step.sleep("nap", float(data.get("seconds", 2)))
            after = await ctx.step.run("after", clock_step("sleeper", "after", data["key"]))
            return {"before": before, "after": after}

        @sdk.function("finish-timeout", event="time/finish-timeout", timeouts={"finish": "2s"})
        async def finish_timeout(ctx: Context) -> str:
            key = ctx.event["data"]["key"]
            await ctx.step.run("before", clock_step("finish-timeout", "before", key))
            await ctx.step.sleep("nap", FINISH_TIMEOUT_SLEEP)
            await ctx.step.run("after", clock_step("finish-timeout", "after", key))
            return "finished"


@pytest.fixture
def app(clock: FakeClock) -> TimeApp:
    return TimeApp(clock)


@pytest.fixture
async def inlet(app: TimeApp, clock: FakeClock) -> Any:
    async with InletTest(app.sdk, clock=clock) as inlet:
        yield inlet


async def start(inlet: InletTest, name: str, **data: Any) -> dict[str, Any]:
    (run,) = await inlet.runs(await inlet.send_one(name, data))
    return run


def parked(rows: list[dict[str, Any]], step: str) -> bool:
    return any(r["name"] == step and r["outcome"] == "waiting" for r in rows)


def instant(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


# --- sleeps -------------------------------------------------------------------------------


async def test_sleep_until_a_time_two_seconds_ahead_resumes_at_that_time_and_not_before(
    inlet: InletTest, app: TimeApp
) -> None:
    until = T0 + 2.0
    run = await start(inlet, "time/sleep-until", key="k", until=until)

    await inlet.advance(1.999)
    assert (await inlet.run(run["run_id"]))["status"] == "Running"
    assert app.count("sleep-until", "after") == 0
    await inlet.advance(0.001)

    done = await inlet.run(run["run_id"])
    assert done["status"] == "Completed", done
    assert done["output"]["after"] == until, done
    assert app.count("sleep-until", "after", "k") == 1


# --- waits --------------------------------------------------------------------------------


async def test_a_wait_that_times_out_resumes_with_none(inlet: InletTest, app: TimeApp) -> None:
    run = await start(inlet, "time/wait", key="k", id="k", timeout_s=2)
    assert parked(await inlet.history(run["run_id"]), "wait")

    await inlet.advance(1.9)
    assert (await inlet.run(run["run_id"]))["status"] == "Running"
    await inlet.advance(0.1)

    done = await inlet.run(run["run_id"])
    assert done["status"] == "Completed", done
    out = done["output"]
    assert out["received"] is None, out
    assert out["resumed"] - out["started"] >= 2.0, out
    assert app.waited == [{"key": "k", "received": None}]


# --- invoke -------------------------------------------------------------------------------


async def test_invoke_that_outlasts_its_timeout_raises_the_invoke_timeout_error(
    inlet: InletTest, app: TimeApp
) -> None:
    sent = inlet.clock.now()
    run = await start(inlet, "time/invoke", key="k")

    await inlet.advance(INVOKE_TIMEOUT)

    done = await inlet.run(run["run_id"])
    assert done["status"] == "Completed", done
    out = done["output"]
    assert out["caught"] == "StepError", out
    assert out["name"] == "InngestInvokeTimeoutError", out
    (error,) = app.invoke_errors
    assert error["at"] - sent >= 2.0, f"the invoke timed out after {error['at'] - sent}s"
    # The child (sleeping 10 s) had not finished when the parent gave up.
    assert app.count("child-slow", "done", "k") == 0


# --- cancellation -------------------------------------------------------------------------


async def sleeping_cancellable(
    inlet: InletTest, app: TimeApp, key: str, **data: Any
) -> tuple[dict[str, Any], float]:
    """A run of ``cancellable`` that sleeps now; with the time its sleep would end."""
    run = await start(inlet, "time/cancellable", key=key, id=key, **data)
    assert parked(await inlet.history(run["run_id"]), "nap")
    (before,) = [s for s in app.steps if s["key"] == key and s["step"] == "before"]
    return run, before["at"] + float(data.get("seconds", CANCELLABLE_SLEEP))


async def assert_cancelled_quietly(
    inlet: InletTest, app: TimeApp, run: dict[str, Any], key: str, sleep_ends_at: float
) -> None:
    """The run ended Cancelled, emitted its system events and made no further calls, even
    after its sleep would have ended."""
    run_id = run["run_id"]
    assert run["status"] == "Cancelled", run
    cancelled_seen = inlet.clock.now()
    await inlet.advance(sleep_ends_at + 2.0 - inlet.clock.now())
    assert app.count("cancellable", "after", key) == 0, app.steps
    late = [c for c in app.sdk.calls if c.run_id == run_id and c.at > cancelled_seen]
    assert not late, f"calls made after the run was cancelled: {late}"
    assert (await inlet.run(run_id))["status"] == "Cancelled"
    cancelled = [
        e
        for e in await inlet.events("inngest/function.cancelled")
        if e["data"].get("run_id") == run_id
    ]
    finished = [
        e
        for e in await inlet.events("inngest/function.finished")
        if e["data"].get("run_id") == run_id
    ]
    assert len(cancelled) == 1 and finished, (cancelled, finished)
    assert cancelled[0]["data"]["_inngest"]["status"] == "Cancelled", cancelled
    assert cancelled[0]["data"]["function_id"] == "accept-time-cancellable", cancelled


async def test_a_cancel_event_stops_a_sleeping_run_and_the_step_after_the_sleep_never_runs(
    inlet: InletTest, app: TimeApp
) -> None:
    run, wakes_at = await sleeping_cancellable(inlet, app, "k")

    await inlet.send_one("time/cancel", {"id": "other"})
    await inlet.advance(1.0)
    assert (await inlet.run(run["run_id"]))["status"] == "Running", "a cancel for another id"
    await inlet.send_one("time/cancel", {"id": "k"})

    await assert_cancelled_quietly(inlet, app, await inlet.run(run["run_id"]), "k", wakes_at)


async def test_deleting_a_sleeping_run_cancels_it_and_a_second_delete_changes_nothing(
    inlet: InletTest, app: TimeApp
) -> None:
    run, wakes_at = await sleeping_cancellable(inlet, app, "k")

    resp = await inlet.http.delete(f"/v1/runs/{run['run_id']}")
    await inlet.settle()

    assert resp.status_code == 200, resp.text
    body = resp.json()["data"]
    assert body["run_id"] == run["run_id"], body
    assert body["status"] == "Cancelled", body
    await assert_cancelled_quietly(inlet, app, await inlet.run(run["run_id"]), "k", wakes_at)
    again = await inlet.http.delete(f"/v1/runs/{run['run_id']}")
    assert again.status_code == 200, again.text
    assert again.json()["data"]["status"] == "Cancelled", again.text
    cancelled = await inlet.events("inngest/function.cancelled")
    assert [e["data"]["run_id"] for e in cancelled].count(run["run_id"]) == 1, cancelled


async def test_bulk_cancellation_cancels_the_active_runs_of_a_function_that_match(
    inlet: InletTest, app: TimeApp
) -> None:
    keys = {"a": ["a1", "a2", "a3"], "b": ["b1", "b2"]}
    groups: dict[str, list[str]] = {}
    for group, members in keys.items():
        for key in members:
            run, _ = await sleeping_cancellable(inlet, app, key, group=group, seconds=30)
            groups.setdefault(group, []).append(run["run_id"])
    group_a, group_b = groups["a"], groups["b"]
    bystander = await start(inlet, "time/sleep", key="bystander", seconds=4)

    resp = await inlet.http.post(
        "/v1/cancellations",
        json={"function_id": "accept-time-cancellable", "if": "event.data.group == 'a'"},
    )
    await inlet.settle()

    assert resp.status_code == 200, resp.text
    result = resp.json()["data"]
    assert result["cancelled"] == 3, result
    assert sorted(result["run_ids"]) == sorted(group_a), result
    for run_id in group_b:
        assert (await inlet.run(run_id))["status"] == "Running"

    rest = await inlet.http.post(
        "/v1/cancellations", json={"function_id": "accept-time-cancellable"}
    )
    await inlet.settle()

    assert rest.status_code == 200, rest.text
    assert sorted(rest.json()["data"]["run_ids"]) == sorted(group_b), rest.json()
    await inlet.advance(31)
    for run_id in group_a + group_b:
        assert (await inlet.run(run_id))["status"] == "Cancelled"
    # Another function's run is untouched and completes.
    assert (await inlet.run(bystander["run_id"]))["status"] == "Completed"
    assert app.count("cancellable", "after") == 0


# --- run timeouts -------------------------------------------------------------------------


async def test_a_run_that_outlives_its_finish_timeout_is_cancelled_with_the_reason(
    inlet: InletTest, app: TimeApp
) -> None:
    run = await start(inlet, "time/finish-timeout", key="k")

    await inlet.advance(FINISH_TIMEOUT)

    done = await inlet.run(run["run_id"])
    assert done["status"] == "Cancelled", done
    assert "timeouts.finish" in str(done["inlet"]["error"]), done
    assert "timeouts.finish" in str(done["output"]), done
    rows = await inlet.history(run["run_id"])
    assert any("timeouts.finish" in str(r.get("error")) for r in rows), rows
    lasted = instant(done["ended_at"]) - instant(done["run_started_at"])
    assert lasted == FINISH_TIMEOUT, f"cancelled after {lasted}s"
    # The step after the 5 s sleep never runs.
    (before,) = [s for s in app.steps if s["fn"] == "finish-timeout"]
    await inlet.advance(before["at"] + FINISH_TIMEOUT_SLEEP + 2.0 - inlet.clock.now())
    assert app.count("finish-timeout", "after", "k") == 0
    assert (await inlet.run(run["run_id"]))["status"] == "Cancelled"


async def test_a_two_second_sleep_resumes_two_seconds_later_and_not_before(
    inlet: InletTest, app: TimeApp
) -> None:
    run = await start(inlet, "time/sleep", key="k", seconds=2)

    await inlet.advance(1.999)
    assert app.count("sleeper", "after") == 0, "woke before the sleep ended"
    await inlet.advance(0.001)

    done = await inlet.run(run["run_id"])
    assert done["status"] == "Completed", done
    assert done["output"]["after"] - done["output"]["before"] == 2.0, done
    assert app.count("sleeper", "before", "k") == 1
    assert app.count("sleeper", "after", "k") == 1


async def test_a_wait_ignores_an_event_for_another_id_and_resumes_with_the_matching_event(
    inlet: InletTest, app: TimeApp
) -> None:
    run = await start(inlet, "time/wait", key="k", id="k", timeout_s=60)
    assert parked(await inlet.history(run["run_id"]), "wait")

    await inlet.send_one("time/go", {"key": "other", "id": "other", "which": "wrong"})
    await inlet.advance(2.0)
    assert (await inlet.run(run["run_id"]))["status"] == "Running"
    assert app.waited == []
    match_id = await inlet.send_one("time/go", {"key": "k", "id": "k", "which": "right"})

    done = await inlet.run(run["run_id"])
    assert done["status"] == "Completed", done
    received = done["output"]["received"]
    assert received["name"] == "time/go", received
    assert received["data"] == {"key": "k", "id": "k", "which": "right"}, received
    assert received["id"] == match_id, received
    assert app.waited == [{"key": "k", "received": received}]


async def test_a_run_throttled_past_its_start_timeout_is_cancelled_without_a_call(
    clock: FakeClock,
) -> None:
    sdk = FakeSDK("accept-start", clock=clock)

    @sdk.function(
        "throttled",
        event="start/go",
        throttle={"limit": 1, "period": "30s", "burst": 0},
        timeouts={"start": "1s"},
    )
    async def throttled(ctx: Context) -> str:
        return f"started {ctx.event['data']['n']}"

    async with InletTest(sdk, clock=clock) as inlet:
        first, second = await inlet.send(
            {"name": "start/go", "data": {"n": 1}}, {"name": "start/go", "data": {"n": 2}}
        )
        await inlet.advance(1)

        (done,) = await inlet.runs(first)
        assert done["status"] == "Completed" and done["output"] == "started 1", done
        (late,) = await inlet.runs(second)
        assert late["status"] == "Cancelled", late
        assert "timeouts.start" in str(late["inlet"]["error"]), late
        history = await inlet.history(late["run_id"])
        assert all(row["status_code"] == 0 for row in history), history
        assert [c.run_id for c in sdk.calls] == [done["run_id"]]
