"""The REST reads over the read model, in process: ``create_app`` with a ``MemoryStore``
and a ``FakeClock``, called through an ASGI transport.

Runs are made the way production makes them, by sending events to ``POST /e``; they are
ended by claiming and completing their work on the store, as the worker would, so no SDK
app and no sleep is needed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from inlet.clock import FakeClock
from inlet.config import Settings
from inlet.model import App, Attempt, Finish, Function, Outcome, RunStatus, Trigger
from inlet.server import Server, create_app
from inlet.store.memory import MemoryStore

NOW = 1_800_000_000.0
"""2027-01-15T08:00:00Z."""
HOUR = 3600.0
APP = "http://app.test/api/inngest"


class CountingStore(MemoryStore):
    """A ``MemoryStore`` that counts the trips a bulk cancel makes. Its ``run_states`` is
    the read model's default, one ``run_state`` each: those count as the one trip."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: dict[str, int] = {}
        self._bulk = False

    def _count(self, name: str) -> None:
        if not self._bulk:
            self.calls[name] = self.calls.get(name, 0) + 1

    async def ingest(self, *args: Any, **kwargs: Any) -> Any:
        self._count("ingest")
        return await super().ingest(*args, **kwargs)

    async def run_state(self, run_id: str) -> Any:
        self._count("run_state")
        return await super().run_state(run_id)

    async def runs_for_event(self, event_id: str) -> Any:
        self._count("runs_for_event")
        return await super().runs_for_event(event_id)

    async def run_states(self, run_ids: Any) -> Any:
        self._count("run_states")
        self._bulk = True
        try:
            return await super().run_states(run_ids)
        finally:
            self._bulk = False


def function(slug: str, event: str, **config: Any) -> Function:
    return Function(
        slug,
        APP,
        slug,
        f"{APP}?fnId={slug}",
        (Trigger(event=event),),
        config={"id": slug, **config},
    )


class Harness:
    def __init__(self, client: httpx.AsyncClient, store: CountingStore, clock: FakeClock) -> None:
        self.client = client
        self.store = store
        self.clock = clock

    async def send(self, name: str, data: dict[str, Any] | None = None) -> str:
        """Send one event a second after the last; its internal id."""
        self.clock.advance(1)
        reply = await self.client.post("/e/key", json={"name": name, "data": data or {}})
        assert reply.status_code == 200, reply.text
        [event_id] = reply.json()["ids"]
        return str(event_id)

    async def end_oldest(self, status: RunStatus, after: float = 10.0) -> str:
        """End the oldest queued run ``after`` seconds after it was made, as a call would."""
        now = self.clock.now()
        [claim] = await self.store.claim(now, 1, now + 100 * HOUR, "w")
        run = await self.store.get_run(claim.item.run_id)
        assert run is not None
        at = run.created_at + after
        error = {"name": "Error", "message": "boom"} if status is RunStatus.FAILED else None
        attempt = Attempt(run.id, claim.item.id, "step", 0, at, at, "completed")
        finish = Finish(status, output={"ok": status.value}, error=error)
        assert await self.store.complete(claim, Outcome(attempt=attempt, finish=finish), at, HOUR)
        return run.id

    async def get(self, path: str, **params: Any) -> httpx.Response:
        return await self.client.get(path, params=params)

    async def run_ids(self, **params: Any) -> list[str]:
        reply = await self.get("/v1/runs", **params)
        assert reply.status_code == 200, reply.text
        return [r["run_id"] for r in reply.json()["data"]]


@pytest.fixture
async def api() -> AsyncIterator[Harness]:
    store = CountingStore()
    clock = FakeClock(NOW)
    app = create_app(Settings(), store=store, clock=clock)
    await store.open()
    await store.save_app(
        App(APP, "app"),
        [
            function("app-a", "app/x"),
            function("app-b", "app/x"),
            function("app-solo", "app/solo"),
            function("app-limited", "app/limited", rateLimit={"limit": 1, "period": "1m"}),
        ],
    )
    server: Server = app.state.server
    await server.reload_functions()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://inlet") as client:
        yield Harness(client, store, clock)
    await store.close()


async def test_runs_are_listed_newest_first_and_filtered_by_function_status_time_and_text(
    api: Harness,
) -> None:
    await api.send("app/x", {"n": 1})  # app-a and app-b at NOW + 1
    await api.send("app/x", {"n": 2})  # at NOW + 2
    first = await api.end_oldest(RunStatus.COMPLETED)
    second = await api.end_oldest(RunStatus.FAILED)
    every = await api.run_ids()
    assert len(every) == 4 and every == sorted(every, reverse=True)
    by_fn = await api.run_ids(function="app-a")
    assert len(by_fn) == 2
    assert await api.run_ids(status="completed") == [first]
    assert sorted(await api.run_ids(status="COMPLETED,failed")) == sorted([first, second])
    reply = await api.client.get("/v1/runs?status=completed&status=Failed")
    assert sorted(r["run_id"] for r in reply.json()["data"]) == sorted([first, second])
    assert len(await api.run_ids(status="queued")) == 2
    assert len(await api.run_ids(since=NOW + 2)) == 2
    assert len(await api.run_ids(until="2027-01-15T08:00:02Z")) == 2
    assert len(await api.run_ids(since="2027-01-15T09:00:01+01:00", until=NOW + 2)) == 2
    assert await api.run_ids(q="BOOM") == [second]
    assert await api.run_ids(q="nothing like this") == []


async def test_paging_with_the_cursor_lists_every_run_once_and_ends_with_no_cursor(
    api: Harness,
) -> None:
    for n in range(4):
        await api.send("app/x", {"n": n})
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        reply = await api.get("/v1/runs", **params)
        assert reply.status_code == 200, reply.text
        body = reply.json()
        seen.extend(r["run_id"] for r in body["data"])
        cursor = body["metadata"]["next_cursor"]
        pages += 1
        if cursor is None:
            break
        await api.send("app/x")  # newer runs do not shift the pages still to come
    assert pages == 3
    assert len(seen) == 8 == len(set(seen))
    assert seen == sorted(seen, reverse=True)
    assert "fetched_at" in body["metadata"]


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("status=paused", "status='paused'"),
        ("since=yesterday", "since='yesterday'"),
        ("until=2027-01-15T08:00:00", "until='2027-01-15T08:00:00' has no UTC offset"),
        ("since=-5", "since='-5'"),
        ("since=20&until=10", "since='20' is not before until='10'"),
        ("limit=0", "limit='0'"),
        ("limit=ten", "limit='ten'"),
        ("limit=501", "limit='501'"),
        ("cursor=page-two", "cursor='page-two'"),
    ],
)
async def test_a_bad_parameter_is_a_400_naming_it_its_value_and_what_is_expected(
    api: Harness, query: str, named: str
) -> None:
    for path in ("/v1/runs", "/v1/runs/counts"):
        if path.endswith("counts") and query.split("=")[0] in ("limit", "cursor"):
            continue
        reply = await api.client.get(f"{path}?{query}")
        assert reply.status_code == 400, (path, reply.text)
        body = reply.json()
        assert named in body["error"] and "expected" in body["error"]
        assert body["status"] == 400


async def test_counts_give_every_status_asked_for_under_the_same_filters(api: Harness) -> None:
    for _ in range(3):
        await api.send("app/x")
    await api.end_oldest(RunStatus.COMPLETED)  # app-a's or app-b's first run
    await api.end_oldest(RunStatus.FAILED)
    reply = await api.get("/v1/runs/counts")
    assert reply.json()["data"] == {
        "total": 6,
        "statuses": {"QUEUED": 4, "RUNNING": 0, "COMPLETED": 1, "FAILED": 1, "CANCELLED": 0},
    }
    reply = await api.get("/v1/runs/counts", status="failed,queued", since=NOW + 2)
    assert reply.json()["data"] == {"total": 4, "statuses": {"FAILED": 0, "QUEUED": 4}}
    reply = await api.get("/v1/runs/counts", function="app-none")
    assert reply.json()["data"]["total"] == 0


async def test_function_stats_count_rate_and_durations_per_bucket(api: Harness) -> None:
    await api.send("app/solo")  # at NOW + 1
    api.clock.advance(2 * HOUR)
    await api.send("app/solo")  # at NOW + 2 h + 2
    await api.send("app/solo")  # at NOW + 2 h + 3, left queued
    await api.end_oldest(RunStatus.COMPLETED, after=10)
    await api.end_oldest(RunStatus.FAILED, after=30)
    reply = await api.get("/v1/functions/app-solo/stats", since=NOW, until=NOW + 3 * HOUR)
    assert reply.status_code == 200, reply.text
    stats = reply.json()["data"]
    assert stats["function_id"] == "app-solo" and stats["bucket_seconds"] == HOUR
    assert (stats["since"], stats["until"]) == (
        "2027-01-15T08:00:00.000Z",
        "2027-01-15T11:00:00.000Z",
    )
    zero = dict.fromkeys((s.value for s in RunStatus), 0)
    first, idle, last = stats["buckets"]
    assert [b["start"] for b in (first, idle, last)] == [
        "2027-01-15T08:00:00.000Z",
        "2027-01-15T09:00:00.000Z",
        "2027-01-15T10:00:00.000Z",
    ]
    assert first == {
        "start": "2027-01-15T08:00:00.000Z",
        "counts": {**zero, "COMPLETED": 1},
        "success_rate": 1.0,
        "p50_ms": 10_000.0,
        "p95_ms": 10_000.0,
    }
    assert idle["counts"] == zero and idle["success_rate"] is None and idle["p50_ms"] is None
    assert last["counts"] == {**zero, "FAILED": 1, "QUEUED": 1}
    assert (last["success_rate"], last["p50_ms"]) == (0.0, 30_000.0)
    total = stats["total"]
    assert total["counts"] == {**zero, "COMPLETED": 1, "FAILED": 1, "QUEUED": 1}
    assert (total["success_rate"], total["p50_ms"], total["p95_ms"]) == (0.5, 10_000.0, 30_000.0)


async def test_function_stats_default_to_the_last_day_in_hours_and_cover_idle_functions(
    api: Harness,
) -> None:
    api.clock.advance(30 * 60 - 1)
    await api.send("app/solo")  # at 08:30, this instant
    reply = await api.get("/v1/functions/app-solo/stats")
    assert reply.status_code == 200, reply.text
    stats = reply.json()["data"]
    assert len(stats["buckets"]) == 24
    assert stats["until"] == "2027-01-15T09:00:00.000Z"
    assert stats["since"] == "2027-01-14T09:00:00.000Z"
    assert stats["buckets"][-1]["counts"]["QUEUED"] == 1
    assert stats["total"]["counts"]["QUEUED"] == 1
    idle = (await api.get("/v1/functions/app-limited/stats", bucket=900)).json()["data"]
    assert len(idle["buckets"]) == 96 and idle["until"] == "2027-01-15T08:45:00.000Z"
    assert idle["total"]["counts"] == dict.fromkeys((s.value for s in RunStatus), 0)


async def test_function_stats_of_an_unknown_function_is_a_404_and_bad_buckets_a_400(
    api: Harness,
) -> None:
    reply = await api.get("/v1/functions/app-zzz/stats")
    assert reply.status_code == 404
    assert "'app-zzz' is not registered" in reply.json()["error"]
    assert "app-a" in reply.json()["error"]
    for bucket, named in (("0", "bucket='0'"), ("soon", "bucket='soon'"), ("1", "bucket='1'")):
        reply = await api.get("/v1/functions/app-a/stats", bucket=bucket)
        assert reply.status_code == 400 and named in reply.json()["error"]


async def test_an_event_shows_the_runs_it_started_and_why_it_started_no_other(
    api: Harness,
) -> None:
    started = await api.send("app/limited")
    limited = await api.send("app/limited")
    reply = await api.get(f"/v1/events/{started}")
    assert reply.status_code == 200, reply.text
    detail = reply.json()["data"]
    assert detail["internal_id"] == started and detail["name"] == "app/limited"
    [run] = detail["inlet"]["runs"]
    assert run["function_id"] == "app-limited" and run["status"] == "Queued"
    assert detail["inlet"]["skipped"] == []
    skipped = (await api.get(f"/v1/events/{limited}")).json()["data"]["inlet"]
    assert skipped["runs"] == []
    [skip] = skipped["skipped"]
    assert skip["function_id"] == "app-limited" and skip["reason"]
    assert (await api.get("/v1/events/01J0000000000000000000000")).status_code == 404


async def test_a_bulk_cancel_reads_the_states_once_and_cancels_in_one_write(
    api: Harness,
) -> None:
    for n in range(4):
        await api.send("app/x", {"n": n})
    api.store.calls.clear()
    reply = await api.client.post(
        "/v1/cancellations", json={"function_id": "app-a", "if": "event.data.n >= 1"}
    )
    assert reply.status_code == 200, reply.text
    body = reply.json()["data"]
    assert body["cancelled"] == 3 == len(body["run_ids"])
    assert api.store.calls == {"run_states": 1, "ingest": 1}
    assert sorted(await api.run_ids(status="cancelled")) == sorted(body["run_ids"])
    [left] = await api.run_ids(function="app-a", status="queued")
    assert left not in body["run_ids"]
    counts = (await api.get("/v1/runs/counts", function="app-b")).json()["data"]
    assert counts["statuses"]["QUEUED"] == 4
    again = (await api.client.post("/v1/cancellations", json={"function_id": "app-a"})).json()
    assert again["data"]["run_ids"] == [left]
    none = (await api.client.post("/v1/cancellations", json={"function_id": "app-a"})).json()
    assert none["data"]["cancelled"] == 0


async def test_graphql_reads_an_events_runs_once_and_their_events_in_one_read(
    api: Harness,
) -> None:
    event_id = await api.send("app/x", {"n": 1})
    await api.end_oldest(RunStatus.FAILED)
    api.store.calls.clear()
    query = (
        "query($id: ID!) { event(query: {eventId: $id}) { status totalRuns pendingRuns "
        "functionRuns { id status events { id } } } }"
    )
    reply = await api.client.post("/v0/gql", json={"query": query, "variables": {"id": event_id}})
    assert reply.status_code == 200, reply.text
    event = reply.json()["data"]["event"]
    # Fields resolved side by side share one read: the runs are not counted twice.
    assert (event["status"], event["totalRuns"], event["pendingRuns"]) == ("RUNNING", 2, 1)
    assert sorted(r["status"] for r in event["functionRuns"]) == ["FAILED", "QUEUED"]
    assert all(r["events"] == [{"id": event_id}] for r in event["functionRuns"])
    assert api.store.calls == {"runs_for_event": 1, "run_states": 1}
