"""``GET /metrics`` after a known workload, in process with the fake SDK: every counter
equals what was done, the histograms observed each call once, and the database-wide
gauges read the queue as it stands."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from inlet.alerts.rules import FUNCTION_FAILING, QUEUE_LATE
from inlet.clock import FakeClock
from inlet.config import Settings
from inlet.executor.transport import HTTPTransport
from inlet.metrics import call_error_kind
from inlet.server import create_app
from inlet.store.alerts import Alert
from inlet.store.memory import MemoryStore
from inlet.testing import Context, FakeSDK, InletTest

T0 = 1_800_000_000.0

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def workload_app(clock: FakeClock) -> FakeSDK:
    sdk = FakeSDK("m", clock=clock)

    @sdk.function("ok", event="m/ok")
    async def ok(ctx: Context) -> Any:
        return await ctx.step.run("double", lambda: ctx.event["data"]["n"] * 2)

    @sdk.function("boom", event="m/boom", retries=0)
    async def boom(ctx: Context) -> None:
        raise RuntimeError("boom")

    @sdk.function("nap", event="m/nap")
    async def nap(ctx: Context) -> None:
        await ctx.step.sleep("nap", 3600)

    @sdk.function("limited", event="m/limited", rateLimit={"limit": 1, "period": "1h"})
    async def limited(ctx: Context) -> None:
        return None

    return sdk


async def scrape(inlet: InletTest) -> Samples:
    reply = await inlet.http.get("/metrics")
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("text/plain")
    return parse(reply.text)


async def calls_of(inlet: InletTest, runs: list[dict[str, Any]]) -> int:
    """Call requests in the runs' histories (a fired timer made none)."""
    total = 0
    for run in runs:
        total += sum(1 for a in await inlet.history(run["run_id"]) if a["status_code"])
    return total


async def test_the_counters_equal_a_known_workload() -> None:
    clock = FakeClock(T0)
    async with InletTest(workload_app(clock), clock=clock) as inlet:
        ok_runs = []
        for n in range(3):
            ok_runs += await inlet.runs(await inlet.send_one("m/ok", {"n": n}))
        boom_runs = []
        for _ in range(2):
            boom_runs += await inlet.runs(await inlet.send_one("m/boom"))
        (sleeper,) = await inlet.runs(await inlet.send_one("m/nap"))
        await inlet.http.delete(f"/v1/runs/{sleeper['run_id']}")
        await inlet.send({"name": "m/limited"}, {"name": "m/limited"}, {"name": "m/limited"})
        await inlet.settle()

        m = await scrape(inlet)
        assert value(m, "inlet_events_received_total") == 9
        assert value(m, "inlet_runs_started_total", function="m-ok") == 3
        assert value(m, "inlet_runs_started_total", function="m-boom") == 2
        assert value(m, "inlet_runs_started_total", function="m-nap") == 1
        assert value(m, "inlet_runs_started_total", function="m-limited") == 1
        finished = "inlet_runs_finished_total"
        assert value(m, finished, function="m-ok", status="completed") == 3
        assert value(m, finished, function="m-boom", status="failed") == 2
        assert value(m, finished, function="m-nap", status="cancelled") == 1
        assert value(m, finished, function="m-limited", status="completed") == 1
        assert value(m, "inlet_flow_skips_total", function="m-limited", reason="rate_limit") == 2
        # The SDK answers 500 when the function raises.
        errors = "inlet_sdk_call_errors_total"
        assert value(m, errors, function="m-boom", kind="http_5xx") == 2
        assert value(m, errors, function="m-ok", kind="http_5xx") == 0

        ok_calls = await calls_of(inlet, ok_runs)
        assert ok_calls == 6  # a step, then the result, per run
        for hist in ("inlet_step_duration_seconds", "inlet_scheduling_delay_seconds"):
            assert value(m, f"{hist}_count", function="m-ok") == ok_calls
            assert value(m, f"{hist}_count", function="m-boom") == await calls_of(inlet, boom_runs)

        # Nothing is due, the sleeper was cancelled: the gauges read an empty queue, and
        # every registered function is there at 0.
        assert value(m, "inlet_store_up") == 1
        for fn in ("m-ok", "m-boom", "m-nap", "m-limited"):
            assert ("inlet_queue_depth", (("function", fn),)) in m
            assert value(m, "inlet_queue_depth", function=fn) == 0
            assert value(m, "inlet_runs_waiting", function=fn) == 0


async def test_the_gauges_read_the_queue_as_it_stands() -> None:
    clock = FakeClock(T0)
    async with InletTest(workload_app(clock), clock=clock) as inlet:
        await inlet.send_one("m/nap")
        await inlet.send_one("m/nap")
        m = await scrape(inlet)
        assert value(m, "inlet_runs_waiting", function="m-nap") == 2
        assert value(m, "inlet_runs_active", function="m-nap", status="running") == 2
        assert value(m, "inlet_queue_depth", function="m-nap") == 0

        # Stop the worker: a run made now stays due, and ages.
        await inlet.app.state.server.executor.stop()  # type: ignore[union-attr]
        await inlet.http.post("/e/key", json={"name": "m/ok", "data": {"n": 1}})
        clock.set(T0 + 90)
        m = await scrape(inlet)
        assert value(m, "inlet_queue_depth", function="m-ok") == 1
        assert value(m, "inlet_queue_oldest_due_age_seconds", function="m-ok") == 90
        assert value(m, "inlet_runs_active", function="m-ok", status="queued") == 1


async def test_each_app_has_its_own_registry() -> None:
    one = create_app(Settings(), store=MemoryStore(), clock=FakeClock(T0))
    two = create_app(Settings(), store=MemoryStore(), clock=FakeClock(T0))
    one.state.server.metrics.events_received(5)
    assert one.state.server.metrics.registry is not two.state.server.metrics.registry
    transport = httpx.ASGITransport(app=two)
    async with httpx.AsyncClient(transport=transport, base_url="http://inlet") as client:
        reply = await client.get("/metrics")
    assert value(parse(reply.text), "inlet_events_received_total") == 0


async def test_metrics_need_an_api_token_in_inlet_start_and_health_does_not() -> None:
    settings = Settings(
        profile="start", signing_key="signkey-prod-0123456789abcdef", event_keys=("key",)
    )
    app = create_app(settings, store=MemoryStore(), clock=FakeClock(T0))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://inlet") as client:
        denied = await client.get("/metrics")
        assert denied.status_code == 401, denied.text
        assert (await client.get("/health")).status_code == 200


async def test_the_transports_failures_are_told_apart() -> None:
    release = asyncio.Event()

    async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await release.wait()
        writer.close()

    silent = await asyncio.start_server(hang, "127.0.0.1", 0)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    transport = HTTPTransport(timeout=0.3, max_response_bytes=1000)
    await transport.start()
    try:
        port = silent.sockets[0].getsockname()[1]
        late = await transport.post(f"http://127.0.0.1:{port}/api/inngest", b"{}", {})
        refused = await transport.post(f"http://127.0.0.1:{closed_port}/api/inngest", b"{}", {})
    finally:
        release.set()
        await transport.close()
        silent.close()
        await silent.wait_closed()
    assert call_error_kind(late.status, late.error, False, "") == "timeout", late
    assert call_error_kind(refused.status, refused.error, False, "") == "connection", refused


async def test_firing_alerts_are_counted_per_rule_from_the_store() -> None:
    clock = FakeClock(T0)
    async with InletTest(workload_app(clock), clock=clock) as inlet:
        m = await scrape(inlet)
        assert value(m, "inlet_alerts_firing", rule=FUNCTION_FAILING) == 0
        assert ("inlet_alerts_firing", (("rule", QUEUE_LATE),)) in m

        for n, slug in enumerate(("m-ok", "m-boom")):
            alert = Alert(f"a{n}", FUNCTION_FAILING, slug, "firing", T0, {"message": "x"})
            assert await inlet.store.fire(alert, [], T0)
        await inlet.store.resolve(FUNCTION_FAILING, "m-ok", T0 + 1, [])

        m = await scrape(inlet)
        assert value(m, "inlet_alerts_firing", rule=FUNCTION_FAILING) == 1
        assert value(m, "inlet_alerts_firing", rule=QUEUE_LATE) == 0
