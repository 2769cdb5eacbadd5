"""Flow control in fake time: a throttle spaces run starts, a batch that does not fill up
starts at its timeout, debounce waits for the quiet period, and singleton skips a second
run while the first sleeps. Bounds are those of the acceptance tests; the clock makes
them exact."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from inlet.testing import Context, FakeClock, FakeSDK, InletTest

THROTTLE_PERIOD_SECONDS = 2.0
DEBOUNCE_PERIOD_SECONDS = 2.0
BATCH_TIMEOUT_SECONDS = 2.0
# The acceptance tests' slack for clocks and dispatch; kept, though fake time needs none.
SLACK = 0.15


class FlowApp:
    """The time-bound functions of the acceptance ``accept-flow`` app; ``records`` holds
    what their bodies did, at the clock's time."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.sdk = FakeSDK("accept-flow", clock=clock)
        self.records: list[dict[str, Any]] = []
        self._define()

    def find(self, kind: str, **match: Any) -> list[dict[str, Any]]:
        return [
            r
            for r in self.records
            if r["kind"] == kind and all(r.get(k) == v for k, v in match.items())
        ]

    def _record(self, kind: str, **fields: Any) -> None:
        self.records.append({"kind": kind, "t": self.clock.now(), **fields})

    def _define(self) -> None:
        sdk, record = self.sdk, self._record

        @sdk.function(
            "throttled",
            event="flow/throttled",
            throttle={"limit": 1, "period": "2s", "burst": 0},
        )
        async def throttled(ctx: Context) -> dict[str, Any]:
            def work() -> float:
                record("span", fn="throttled", data=ctx.event["data"])
                return self.clock.now()

            return {"t_start": await ctx.step.run("work", work)}

        @sdk.function(
            "debounced", event="flow/debounced", debounce={"period": "2s", "key": "event.data.key"}
        )
        async def debounced(ctx: Context) -> dict[str, Any]:
            record("run", fn="debounced", data=ctx.event["data"])
            return dict(ctx.event["data"])

        @sdk.function(
            "batch-timeout",
            event="flow/batch-timeout",
            batchEvents={"maxSize": 10, "timeout": "2s"},
        )
        async def batch_timeout(ctx: Context) -> dict[str, Any]:
            datas = [dict(e["data"]) for e in ctx.events]
            record("run", fn="batch-timeout", events=datas)
            return {"count": len(datas), "events": datas}

        @sdk.function(
            "singleton-skip",
            event="flow/singleton-skip",
            singleton={"key": "event.data.key", "mode": "skip"},
        )
        async def singleton_skip(ctx: Context) -> dict[str, Any]:
            n = ctx.event["data"]["n"]
            await ctx.step.run("begin", lambda: record("begin", fn="singleton-skip", n=n))
            await ctx.step.sleep("nap", float(ctx.event["data"]["sleep"]))
            await ctx.step.run("finish", lambda: record("finish", fn="singleton-skip", n=n))
            return {"n": n}


@pytest.fixture
def app(clock: FakeClock) -> FlowApp:
    return FlowApp(clock)


@pytest.fixture
async def inlet(app: FlowApp, clock: FakeClock) -> Any:
    async with InletTest(app.sdk, clock=clock) as inlet:
        yield inlet


async def completed(inlet: InletTest, event_ids: list[str]) -> list[dict[str, Any]]:
    runs = []
    for event_id in event_ids:
        (run,) = await inlet.runs(event_id)
        assert run["status"] == "Completed", run
        runs.append(run)
    return runs


async def the_skip(inlet: InletTest, event_id: str) -> dict[str, Any]:
    skips: list[dict[str, Any]] = (await inlet.event(event_id))["inlet"]["skipped"]
    assert len(skips) == 1, skips
    return skips[0]


async def test_a_throttle_of_one_per_two_seconds_delays_run_starts_but_runs_every_event(
    inlet: InletTest, app: FlowApp
) -> None:
    ids = await inlet.send(*({"name": "flow/throttled", "data": {"i": i}} for i in range(3)))

    await inlet.advance(2 * THROTTLE_PERIOD_SECONDS - 0.1)
    assert len(app.find("span")) == 2, app.records
    await inlet.advance(0.1)

    await completed(inlet, ids)
    starts = [s["t"] for s in app.find("span")]
    assert len(starts) == 3, starts
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert all(g >= THROTTLE_PERIOD_SECONDS - 0.5 for g in gaps), gaps
    assert starts[-1] - starts[0] >= 2 * THROTTLE_PERIOD_SECONDS - 2 * SLACK, gaps


async def test_debounce_runs_once_with_the_last_of_three_quick_events_and_the_others_show_debounced(
    inlet: InletTest, app: FlowApp
) -> None:
    ids = []
    for n in (1, 2, 3):
        ids.append(await inlet.send_one("flow/debounced", {"key": "k", "n": n}))
        await inlet.advance(0.5)
    last_sent = inlet.clock.now() - 0.5

    await inlet.advance(DEBOUNCE_PERIOD_SECONDS - 0.6)
    assert app.find("run") == [], "the debounced run started before its quiet period"
    await inlet.advance(0.1)

    (run,) = await completed(inlet, ids[2:])
    assert run["output"] == {"key": "k", "n": 3}
    (execution,) = app.find("run", fn="debounced")
    assert execution["data"] == {"key": "k", "n": 3}
    assert execution["t"] >= last_sent + DEBOUNCE_PERIOD_SECONDS - SLACK, (last_sent, execution)
    for event_id in ids[:2]:
        skip = await the_skip(inlet, event_id)
        assert skip["function_id"] == "accept-flow-debounced", skip
        assert "debounced" in skip["reason"], skip
        assert await inlet.runs(event_id) == []


async def test_a_batch_that_does_not_fill_up_starts_after_its_timeout_with_the_events_so_far(
    inlet: InletTest, app: FlowApp
) -> None:
    first_sent = inlet.clock.now()
    ids = [await inlet.send_one("flow/batch-timeout", {"n": n}) for n in (1, 2)]

    await inlet.advance(BATCH_TIMEOUT_SECONDS - 0.1)
    assert app.find("run") == [], "the batch started before its timeout"
    await inlet.advance(0.1)

    runs = [(await inlet.runs(e))[0] for e in ids]
    assert len({r["run_id"] for r in runs}) == 1, runs
    assert runs[0]["status"] == "Completed", runs[0]
    assert runs[0]["output"] == {"count": 2, "events": [{"n": n} for n in (1, 2)]}
    (execution,) = app.find("run", fn="batch-timeout")
    assert execution["t"] >= first_sent + BATCH_TIMEOUT_SECONDS - SLACK, (first_sent, execution)


async def test_singleton_skip_drops_an_event_that_arrives_while_the_first_run_sleeps(
    inlet: InletTest, app: FlowApp
) -> None:
    event = "flow/singleton-skip"
    first = await inlet.send_one(event, {"key": "k", "n": 1, "sleep": 3})
    assert app.find("begin", n=1), "the first run did not begin"
    second = await inlet.send_one(event, {"key": "k", "n": 2, "sleep": 0})

    skip = await the_skip(inlet, second)
    assert skip["function_id"] == "accept-flow-singleton-skip", skip
    assert "singleton" in skip["reason"], skip
    await inlet.advance(3)
    (run,) = await completed(inlet, [first])
    assert run["output"] == {"n": 1}
    assert await inlet.runs(second) == []
    assert app.find("begin", n=2) == []
    # Once the first run has ended, the key is free again.
    third = await inlet.send_one(event, {"key": "k", "n": 3, "sleep": 0})
    await inlet.advance(0)
    (run,) = await completed(inlet, [third])
    assert run["output"] == {"n": 3}
