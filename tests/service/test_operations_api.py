"""The operating endpoints over HTTP: rerun, pause and resume, and bulk operations
(preview, create, progress, list, cancel), with the error each bad parameter gets."""

from __future__ import annotations

from typing import Any

import httpx

from inlet.testing import Context, FakeClock, FakeSDK, InletTest


def ops_app(clock: FakeClock, broken: set[str]) -> FakeSDK:
    sdk = FakeSDK("ops", clock=clock)

    @sdk.function("pipeline", event="ops/pipeline", retries=0)
    async def pipeline(ctx: Context) -> int:
        rows: int = await ctx.step.run("load", lambda: int(ctx.event["data"].get("n", 0)))

        def embed() -> int:
            if "embed" in broken:
                raise RuntimeError("expected 384 dimensions, got 1536")
            return rows * 2

        vectors: int = await ctx.step.run("embed", embed)
        return vectors

    return sdk


def data(resp: httpx.Response, status: int = 200) -> Any:
    assert resp.status_code == status, resp.text
    return resp.json()["data"]


def error(resp: httpx.Response, status: int, *words: str) -> None:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert {"error", "status"} <= set(body) and body["status"] == status, body
    for word in words:
        assert word in body["error"], (word, body["error"])


async def test_rerun_from_a_step_over_http(clock: FakeClock) -> None:
    broken = {"embed"}
    async with InletTest(ops_app(clock, broken), clock=clock) as inlet:
        (failed,) = await inlet.runs(await inlet.send_one("ops/pipeline", {"n": 5}))
        assert failed["status"] == "Failed"
        broken.clear()

        made = data(
            await inlet.http.post(
                f"/v1/runs/{failed['run_id']}/rerun", json={"from_step": "embed"}
            ),
            201,
        )
        assert made["rerun_of"] == failed["run_id"] and made["from_step"] == "embed"
        await inlet.settle()
        rerun = await inlet.run(made["run_id"])
        assert (rerun["status"], rerun["output"]) == ("Completed", 10)

        again = data(await inlet.http.post(f"/v1/runs/{failed['run_id']}/rerun"), 201)
        assert again["run_id"] != made["run_id"], "a rerun with no body starts from scratch"

        error(
            await inlet.http.post(f"/v1/runs/{failed['run_id']}/rerun", json={"from_step": "nope"}),
            400,
            "from_step 'nope'",
            "'load'",
        )
        error(await inlet.http.post("/v1/runs/01NOSUCHRUN/rerun"), 404, "01NOSUCHRUN")
        error(
            await inlet.http.post(f"/v1/runs/{failed['run_id']}/rerun", content=b"[1]"),
            400,
            "JSON object",
        )
        error(
            await inlet.http.post(f"/v1/runs/{failed['run_id']}/rerun", json={"from_step": 3}),
            400,
            "from_step",
        )


async def test_pause_resume_and_replay_of_the_skipped_events_over_http(
    clock: FakeClock,
) -> None:
    async with InletTest(ops_app(clock, set()), clock=clock) as inlet:
        paused = data(await inlet.http.post("/v1/functions/ops-pipeline/pause"))
        assert paused["paused"] is True and paused["paused_at"] is not None
        skipped = [await inlet.send_one("ops/pipeline", {"n": n}) for n in range(2)]
        assert [await inlet.runs(e) for e in skipped] == [[], []]
        event = data(await inlet.http.get(f"/v1/events/{skipped[0]}"))
        assert "function paused" in str(event), event

        resumed = data(await inlet.http.post("/v1/functions/ops-pipeline/resume"))
        assert resumed["paused"] is False
        await inlet.advance(1)

        body = {"kind": "replay", "function_id": "ops-pipeline", "statuses": ["Skipped"]}
        preview = data(await inlet.http.post("/v1/bulk", json={**body, "dry_run": True}))
        assert preview["total"] == 2 and preview["id"] is None
        assert data(await inlet.http.get("/v1/bulk")) == [], "a preview stores nothing"

        op = data(await inlet.http.post("/v1/bulk", json={**body, "name": "after pause"}), 201)
        assert (op["state"], op["total"], op["name"]) == ("running", 2, "after pause")
        server = inlet.app.state.server if inlet.app else None
        assert server is not None
        while not (await server.bulk.get(op["id"])).finished:
            await server.bulk.step()
        progress = data(await inlet.http.get(f"/v1/bulk/{op['id']}"))
        assert (progress["state"], progress["done"], progress["changed"]) == ("done", 2, 2)
        await inlet.settle()
        for event_id in skipped:
            assert [r["status"] for r in await inlet.runs(event_id)] == ["Completed"]
        assert [o["id"] for o in data(await inlet.http.get("/v1/bulk"))] == [op["id"]]

        error(await inlet.http.post(f"/v1/bulk/{op['id']}/cancel"), 409, "done")
        error(await inlet.http.post("/v1/functions/nope/pause"), 404, "'nope'", "ops-pipeline")
        error(
            await inlet.http.post("/v1/functions/ops-pipeline/pause", json={"cancel_running": 1}),
            400,
            "cancel_running",
        )


async def test_bulk_operations_refuse_bad_parameters_by_name(clock: FakeClock) -> None:
    async with InletTest(ops_app(clock, set()), clock=clock) as inlet:
        good = {"kind": "cancel", "function_id": "ops-pipeline", "statuses": ["Running"]}
        for change, words in [
            ({"kind": "delete"}, ["kind='delete'", "replay"]),
            ({"function_id": None}, ["function_id is required"]),
            ({"statuses": "Failed"}, ["statuses must be a list"]),
            ({"statuses": []}, ["statuses is empty"]),
            ({"statuses": ["Skipped"]}, ["'Skipped'", "cancel"]),
            ({"statuses": ["Broken"]}, ["'Broken'", "Failed"]),
            ({"created_after": "yesterday"}, ["created_after='yesterday'", "RFC 3339"]),
            ({"created_after": "2026-01-01T00:00:00"}, ["created_after", "RFC 3339"]),
            ({"created_after": "0001-01-01T00:00:00+14:00"}, ["created_after", "1970"]),
            (
                {"created_after": "2026-02-01T00:00:00Z", "created_before": "2026-01-01T00:00:00Z"},
                ["time range is empty"],
            ),
            ({"dry_run": "yes"}, ["dry_run must be true or false"]),
        ]:
            error(await inlet.http.post("/v1/bulk", json={**good, **change}), 400, *words)
        unknown = {**good, "function_id": "nope"}
        error(await inlet.http.post("/v1/bulk", json=unknown), 404, "'nope'", "ops-pipeline")
        error(await inlet.http.get("/v1/bulk/01NOPE"), 404, "01NOPE")
        error(await inlet.http.post("/v1/bulk", content=b"{"), 400, "not valid JSON")

        op = data(await inlet.http.post("/v1/bulk", json=good), 201)
        cancelled = data(await inlet.http.post(f"/v1/bulk/{op['id']}/cancel"))
        assert cancelled["state"] in ("cancelled", "done")


async def test_runs_are_found_by_app_and_by_an_expression_over_event_and_output(
    clock: FakeClock,
) -> None:
    async with InletTest(ops_app(clock, set()), clock=clock) as inlet:
        for n in (1, 2, 3):
            await inlet.send_one("ops/pipeline", {"n": n})
        found = await inlet.http.get("/v1/runs", params={"expr": "event.data.n >= 2 && output < 6"})
        body = found.json()
        assert [r["output"] for r in body["data"]] == [4], body
        assert body["metadata"]["searched"] == 3

        by_app = data(await inlet.http.get("/v1/runs", params={"app": "ops"}))
        assert len(by_app) == 3
        error(await inlet.http.get("/v1/runs", params={"app": "nope"}), 404, "'nope'", "ops")
        error(await inlet.http.get("/v1/runs", params={"expr": "output <"}), 400, "output <")


async def test_an_attempt_tells_its_queue_delay_apart_from_its_call(clock: FakeClock) -> None:
    broken = {"embed"}
    async with InletTest(ops_app(clock, broken), clock=clock) as inlet:
        (run,) = await inlet.runs(await inlet.send_one("ops/pipeline", {"n": 1}))
        rows = await inlet.history(run["run_id"])
        assert rows and all(r["due_at"] is not None for r in rows), rows
        assert all(r["queue_delay_ms"] >= 0 for r in rows), rows


async def test_an_event_says_why_each_function_did_or_did_not_run(clock: FakeClock) -> None:
    sdk = ops_app(clock, set())

    @sdk.function("big", event="ops/pipeline", expression="event.data.n > 10")
    async def big(ctx: Context) -> None:
        return None

    async with InletTest(sdk, clock=clock) as inlet:
        await inlet.http.post("/v1/functions/ops-pipeline/pause")
        event_id = await inlet.send_one("ops/pipeline", {"n": 1})
        why = data(await inlet.http.get(f"/v1/events/{event_id}"))["inlet"]
        verdicts = {v["function_id"]: v for v in why["functions"]}
        assert verdicts["ops-pipeline"]["reason"] == "function paused"
        assert verdicts["ops-big"]["outcome"] == "skipped"
        assert "event.data.n > 10" in verdicts["ops-big"]["reason"]

        typo = await inlet.send_one("ops/pipelin", {})
        note = data(await inlet.http.get(f"/v1/events/{typo}"))["inlet"]["note"]
        assert note == "no function listens to 'ops/pipelin'; the nearest names: 'ops/pipeline'"
