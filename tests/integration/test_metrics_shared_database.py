"""Two servers on one PostgreSQL database, in process on one fake clock, with a backlog
neither works off (their workers stopped): the queue depth and the oldest due item's age
per function, what an autoscaler scales on, read the same on both and count the events
sent to either, and age with the clock."""

from __future__ import annotations

from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from inlet.store.postgres import PostgresStore, migrate
from inlet.testing import Context, FakeClock, FakeSDK, InletTest

T0 = 1_800_000_000.0

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(inlet: InletTest) -> Samples:
    reply = await inlet.http.get("/metrics")
    assert reply.status_code == 200, reply.text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(reply.text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def backlog_app(clock: FakeClock) -> FakeSDK:
    sdk = FakeSDK("q", clock=clock)

    @sdk.function("work", event="q/work")
    async def work(ctx: Context) -> Any:
        return await ctx.step.run("do", lambda: 1)

    @sdk.function("other", event="q/other")
    async def other(ctx: Context) -> Any:
        return 2

    return sdk


async def test_two_servers_on_one_database_read_the_same_backlog(pg_url: str) -> None:
    migrate(pg_url)
    clock = FakeClock(T0)
    sdk = backlog_app(clock)
    async with (
        InletTest(sdk, clock=clock, store=PostgresStore(pg_url)) as one,
        InletTest(sdk, clock=clock, store=PostgresStore(pg_url)) as two,
    ):
        servers = [one, two]
        for inlet in servers:
            await inlet.app.state.server.executor.stop()  # type: ignore[union-attr]
        for _ in range(2):
            await one.http.post("/e/key", json={"name": "q/work"})
        clock.set(T0 + 30)
        await two.http.post("/e/key", json={"name": "q/work"})
        await two.http.post("/e/key", json={"name": "q/other"})
        clock.set(T0 + 90)

        scrapes = [await scrape(inlet) for inlet in servers]
        for m in scrapes:
            assert value(m, "inlet_queue_depth", function="q-work") == 3
            assert value(m, "inlet_queue_oldest_due_age_seconds", function="q-work") == 90
            assert value(m, "inlet_queue_depth", function="q-other") == 1
            assert value(m, "inlet_queue_oldest_due_age_seconds", function="q-other") == 60
            assert value(m, "inlet_runs_active", function="q-work", status="queued") == 3
        # Each process counted the events it took, the gauges are the database's.
        assert [value(m, "inlet_events_received_total") for m in scrapes] == [2, 2]
