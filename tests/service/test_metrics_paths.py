"""``/metrics`` after a known workload in fake time: every way a run is cancelled counts it
once under its function (an event's ``cancelOn``, a run's ending that another run's
``cancelOn`` waits for, ``DELETE /v1/runs/{id}``, ``POST /v1/cancellations``, a bulk
operation, a pause that cancels, a singleton that replaces, a run timeout), and every
skip and every delay of flow control is counted under its reason."""

from __future__ import annotations

from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from inlet.testing import Context, FakeClock, FakeSDK, InletTest

HOUR = 3600.0
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(inlet: InletTest) -> Samples:
    reply = await inlet.http.get("/metrics")
    assert reply.status_code == 200, reply.text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(reply.text)
        for s in family.samples
    }


def by_label(samples: Samples, name: str, **fixed: str) -> dict[tuple[str, ...], float]:
    """The non-zero samples of ``name`` whose labels include ``fixed``, keyed by the values
    of the other labels."""
    found = {}
    for (sample, labels), value in samples.items():
        if sample != name or not value:
            continue
        if all((k, v) in labels for k, v in fixed.items()):
            found[tuple(v for k, v in labels if k not in fixed)] = value
    return found


def data(reply: httpx.Response, status: int = 200) -> Any:
    assert reply.status_code == status, reply.text
    return reply.json()["data"]


def cancel_app(clock: FakeClock) -> FakeSDK:
    sdk = FakeSDK("mx", clock=clock)

    async def nap(ctx: Context) -> None:
        await ctx.step.sleep("nap", HOUR)

    for fn_id, config in (
        ("on-event", {"cancel": [{"event": "mx/stop", "if": "async.data.id == event.data.id"}]}),
        (
            "on-finish",
            {
                "cancel": [
                    {
                        "event": "inngest/function.finished",
                        "if": "async.data.function_id == 'mx-quick'",
                    }
                ]
            },
        ),
        ("by-delete", {}),
        ("by-cancellations", {}),
        ("by-bulk", {}),
        ("by-pause", {}),
        ("singleton", {"singleton": {"key": "'one'", "mode": "cancel"}}),
        ("timeout", {"timeouts": {"finish": "2s"}}),
    ):
        sdk.function(fn_id, event=f"mx/{fn_id}", **config)(nap)

    @sdk.function("quick", event="mx/quick")
    async def quick(ctx: Context) -> int:
        return 1

    return sdk


async def test_every_way_a_run_is_cancelled_counts_it_once_under_its_function(
    clock: FakeClock,
) -> None:
    async with InletTest(cancel_app(clock), clock=clock) as inlet:
        sent: dict[str, list[str]] = {}
        for fn_id, count in (
            ("on-event", 2),
            ("on-finish", 1),
            ("by-delete", 2),
            ("by-cancellations", 2),
            ("by-bulk", 2),
            ("by-pause", 1),
            ("timeout", 1),
        ):
            events = ({"name": f"mx/{fn_id}", "data": {"id": i}} for i in range(count))
            sent[fn_id] = await inlet.send(*events)
        await inlet.send_one("mx/singleton", {"n": 1})
        await inlet.send_one("mx/singleton", {"n": 2})  # replaces the first

        await inlet.send_one("mx/stop", {"id": 1})  # cancels one of the two
        await inlet.send_one("mx/quick")  # its ending cancels the run that waits for it
        (deleted,) = await inlet.runs(sent["by-delete"][0])
        assert (await inlet.http.delete(f"/v1/runs/{deleted['run_id']}")).status_code == 200
        cancellations = {"function_id": "mx-by-cancellations"}
        reply = await inlet.http.post("/v1/cancellations", json=cancellations)
        assert data(reply)["cancelled"] == 2
        await inlet.advance(1)  # a bulk operation takes the runs made before it
        bulk = {"kind": "cancel", "function_id": "mx-by-bulk", "statuses": ["Running"]}
        op = data(await inlet.http.post("/v1/bulk", json=bulk), 201)
        server = inlet.app.state.server  # type: ignore[union-attr]
        while not (await server.bulk.get(op["id"])).finished:
            await server.bulk.step()
        paused = {"cancel_running": True}
        reply = await inlet.http.post("/v1/functions/mx-by-pause/pause", json=paused)
        assert reply.status_code == 200, reply.text
        await inlet.advance(2)  # past the 2 s timeouts.finish
        await inlet.settle()

        m = await scrape(inlet)
        assert by_label(m, "inlet_runs_finished_total", status="cancelled") == {
            ("mx-on-event",): 1,
            ("mx-on-finish",): 1,
            ("mx-by-delete",): 1,
            ("mx-by-cancellations",): 2,
            ("mx-by-bulk",): 2,
            ("mx-by-pause",): 1,
            ("mx-singleton",): 1,
            ("mx-timeout",): 1,
        }
        # The database agrees, run by run: as many cancelled runs as counted.
        stored = await inlet.store.list_runs(None, active=False)
        cancelled: dict[tuple[str], float] = {}
        for run in stored:
            if run.status.value == "CANCELLED":
                key = (run.function_slug,)
                cancelled[key] = cancelled.get(key, 0) + 1
        assert by_label(m, "inlet_runs_finished_total", status="cancelled") == cancelled
        assert by_label(m, "inlet_runs_finished_total", status="completed") == {("mx-quick",): 1}


def flow_app(clock: FakeClock) -> FakeSDK:
    sdk = FakeSDK("fx", clock=clock)

    async def done(ctx: Context) -> int:
        return 1

    async def nap(ctx: Context) -> None:
        await ctx.step.sleep("nap", HOUR)

    for fn_id, handler, config in (
        ("plain", done, {}),
        ("paused", done, {}),
        ("idempotent", done, {"idempotency": "event.data.k"}),
        ("rate-limited", done, {"rateLimit": {"limit": 1, "period": "1h"}}),
        ("debounced", done, {"debounce": {"period": "2s", "key": "event.data.k"}}),
        ("singleton", nap, {"singleton": {"key": "event.data.k", "mode": "skip"}}),
        ("throttled", done, {"throttle": {"limit": 1, "period": "2s", "burst": 0}}),
        ("batched", done, {"batchEvents": {"maxSize": 10, "timeout": "2s"}}),
        ("one-at-a-time", done, {"concurrency": [{"limit": 1}]}),
    ):
        sdk.function(fn_id, event=f"fx/{fn_id}", **config)(handler)
    sdk.function("picky", event="fx/picky", expression="event.data.go == true")(done)
    return sdk


async def test_every_skip_and_delay_of_flow_control_is_counted_under_its_reason(
    clock: FakeClock,
) -> None:
    async with InletTest(flow_app(clock), clock=clock) as inlet:
        three = [{"k": 1, "go": False}] * 3
        # The same event id twice (a new send, not a retry): the second is a duplicate.
        await inlet.send({"name": "fx/plain", "id": "order-1"})
        await inlet.send({"name": "fx/plain", "id": "order-1"})
        pause = await inlet.http.post("/v1/functions/fx-paused/pause", json={})
        assert pause.status_code == 200, pause.text
        for fn_id in ("paused", "idempotent", "rate-limited", "picky"):
            await inlet.send(*({"name": f"fx/{fn_id}", "data": d} for d in three))
        for fn_id in ("debounced", "throttled", "batched", "one-at-a-time", "singleton"):
            await inlet.send(*({"name": f"fx/{fn_id}", "data": d} for d in three))
        await inlet.advance(10)

        m = await scrape(inlet)
        assert by_label(m, "inlet_flow_skips_total") == {
            ("fx-plain", "duplicate_event"): 1,
            ("fx-paused", "paused"): 3,
            ("fx-idempotent", "idempotency"): 2,
            ("fx-rate-limited", "rate_limit"): 2,
            ("fx-picky", "expression"): 3,
            # Each later event takes the debounced run over from the one before.
            ("fx-debounced", "debounce"): 2,
            ("fx-singleton", "singleton"): 2,
        }
        assert by_label(m, "inlet_flow_delays_total") == {
            # Made to start after the period, then put off by each later event.
            ("fx-debounced", "debounce"): 3,
            ("fx-throttled", "throttle"): 2,
            # The batch's run, held until its timeout; the other events join it.
            ("fx-batched", "batch"): 1,
            # Sent together: one call starts, two wait for the slot.
            ("fx-one-at-a-time", "concurrency"): 2,
        }
        # Whatever was held back ran in the end, once per admitted run.
        assert by_label(m, "inlet_runs_finished_total", status="completed") == {
            ("fx-plain",): 1,
            ("fx-idempotent",): 1,
            ("fx-rate-limited",): 1,
            ("fx-debounced",): 1,
            ("fx-throttled",): 3,
            ("fx-batched",): 1,
            ("fx-one-at-a-time",): 3,
        }


def waiting_app(clock: FakeClock) -> FakeSDK:
    sdk = FakeSDK("wx", clock=clock)

    @sdk.function("sleeper", event="wx/sleep", timeouts={"finish": "1d"})
    async def sleeper(ctx: Context) -> None:
        await ctx.step.sleep("nap", HOUR)

    @sdk.function("waiter", event="wx/wait", cancel=[{"event": "wx/never"}])
    async def waiter(ctx: Context) -> None:
        await ctx.step.wait_for_event("approval", event="wx/approved", within=HOUR)

    @sdk.function("parent", event="wx/parent")
    async def parent(ctx: Context) -> None:
        await ctx.step.invoke("child", function_id="wx-sleeper", within=2 * HOUR)

    return sdk


async def test_waiting_steps_are_read_from_the_database_by_kind(clock: FakeClock) -> None:
    async with InletTest(waiting_app(clock), clock=clock) as inlet:
        await inlet.send({"name": "wx/sleep"}, {"name": "wx/sleep"}, {"name": "wx/wait"})
        await inlet.send_one("wx/parent")  # its child sleeps too
        m = await scrape(inlet)
        assert by_label(m, "inlet_steps_waiting") == {
            ("wx-sleeper", "sleep"): 3,
            ("wx-waiter", "event"): 1,
            ("wx-parent", "invoke"): 1,
        }
        # Registered functions are there at 0 for every kind (a 0, not a missing series).
        assert ("inlet_steps_waiting", (("function", "wx-waiter"), ("kind", "sleep"))) in m
        assert by_label(m, "inlet_runs_waiting") == {
            ("wx-sleeper",): 3,
            ("wx-waiter",): 1,
            ("wx-parent",): 1,
        }

        await inlet.send_one("wx/approved")
        await inlet.advance(HOUR)  # every sleep ends, and with the child the invoke
        m = await scrape(inlet)
        assert by_label(m, "inlet_steps_waiting") == {}
        assert by_label(m, "inlet_runs_finished_total", status="completed") == {
            ("wx-sleeper",): 3,
            ("wx-waiter",): 1,
            ("wx-parent",): 1,
        }
