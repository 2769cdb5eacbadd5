"""The dashboard's operating pages in process (``inlet dev`` and ``inlet start``, a
``MemoryStore``, a fake clock): rerun and rerun from a step, a run's waits, the runs page's
app, expression and custom time filters, a function's page with its charts, pause and
resume, invoke with a JSON payload, bulk preview and progress, the events page's send form
and an event's page saying why each function did not run; a viewer sees none of the
buttons and their forged POSTs get 403."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from inlet.clock import FakeClock
from inlet.config import Settings
from inlet.model import App, Function, StoredMemo, Trigger
from inlet.server import Server, create_app
from inlet.store.memory import MemoryStore
from inlet.store.queries import RunFilter
from inlet.store.users import User
from inlet.ui.passwords import hash_password

NOW = 1_800_000_000.0
APP = "http://app.test/api/inngest"
OTHER = "http://other.test/api/inngest"
ORIGIN = {"Origin": "http://inlet"}
PASSWORD = "correct horse battery"
START = Settings(profile="start", signing_key="signkey-prod-0123456789abcdef", event_keys=("k",))


@dataclass
class Ui:
    client: httpx.AsyncClient
    store: MemoryStore
    clock: FakeClock
    server: Server

    async def send(self, name: str, **data: object) -> str:
        sent = await self.client.post("/e/k", json={"name": name, "data": data})
        assert sent.status_code == 200, sent.text
        return str(sent.json()["ids"][0])

    async def run_of(self, event_id: str) -> str:
        runs = await self.store.runs_for_event(event_id)
        return next(r.id for r in runs if r.function_slug == "app-a")

    async def csrf(self, path: str) -> str:
        page = await self.client.get(path)
        assert page.status_code == 200, page.text
        found = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
        assert found, f"{path} has no form with a CSRF token"
        return found.group(1)

    async def post(self, path: str, **fields: str) -> httpx.Response:
        fields.setdefault("csrf", await self.csrf("/ui/events"))
        return await self.client.post(path, data=fields, headers=ORIGIN)


async def serve(settings: Settings) -> AsyncIterator[Ui]:
    store, clock = MemoryStore(), FakeClock(NOW)
    app = create_app(settings, store=store, clock=clock)
    await store.open()
    functions = [
        Function("app-a", APP, "a", f"{APP}?fnId=app-a", (Trigger(event="app/x"),)),
        Function(
            "app-big",
            APP,
            "big orders",
            f"{APP}?fnId=app-big",
            (Trigger(event="app/x", expression="event.data.n > 10"),),
            config={"concurrency": [{"limit": 2}]},
        ),
        Function("app-tick", APP, "tick", f"{APP}?fnId=app-tick", (Trigger(cron="0 * * * *"),)),
    ]
    await store.save_app(App(APP, "app", sdk="py:v0.5.19"), functions)
    other = Function("other-b", OTHER, "b", f"{OTHER}?fnId=other-b", (Trigger(event="app/x"),))
    await store.save_app(App(OTHER, "other", sdk="py:v0.5.19"), [other])
    server: Server = app.state.server
    await server.reload_functions()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://inlet") as client:
        yield Ui(client, store, clock, server)
    await store.close()


@pytest.fixture
async def dev() -> AsyncIterator[Ui]:
    async for ui in serve(Settings()):
        yield ui


@pytest.fixture
async def start() -> AsyncIterator[Ui]:
    async for ui in serve(START):
        yield ui


async def test_every_new_page_opens(dev: Ui) -> None:
    event_id = await dev.send("app/x", n=1)
    run_id = await dev.run_of(event_id)
    for path in [
        "/ui/functions",
        "/ui/functions/app-a",
        "/ui/functions/app-a?window=7d",
        "/ui/functions/app-tick?window=1h",
        f"/ui/events/{event_id}",
        "/ui/bulk",
        f"/ui/runs/{run_id}",
        "/ui/runs?app=app&range=custom&since=2027-01-01T00:00&until=2027-12-31T00:00",
    ]:
        page = await dev.client.get(path)
        assert page.status_code == 200, (path, page.text)
    assert (await dev.client.get("/ui/functions/nope")).status_code == 404
    assert (await dev.client.get("/ui/events/nope")).status_code == 404
    assert (await dev.client.get("/ui/bulk/nope")).status_code == 404


async def test_the_runs_page_filters_by_app_expression_and_custom_range(dev: Ui) -> None:
    small = await dev.run_of(await dev.send("app/x", n=1))
    other = [r.id for r in await dev.store.runs_for_event(await dev.send("app/x", n=50))]

    by_app = (await dev.client.get("/ui/runs?app=app")).text
    assert small in by_app
    found = await dev.client.get("/ui/runs", params={"expr": "event.data.n > 10"})
    assert small not in found.text and all(r in found.text for r in other)
    assert 'id="searched"' in found.text and "Searched" in found.text
    bad = await dev.client.get("/ui/runs", params={"expr": "event.data.n >"})
    assert bad.status_code == 200 and 'id="expr-error"' in bad.text
    before = "/ui/runs?range=custom&since=2020-01-01T00:00&until=2020-01-02T00:00"
    assert small not in (await dev.client.get(before)).text
    around = "/ui/runs?range=custom&since=2027-01-01T00:00&until=2027-12-31T00:00"
    assert small in (await dev.client.get(around)).text


async def test_a_rerun_from_a_step_keeps_the_earlier_outputs_and_opens_the_new_run(
    dev: Ui,
) -> None:
    run_id = await dev.run_of(await dev.send("app/x", n=1))
    for seq, (step, name) in enumerate([("s1", "load"), ("s2", "pay")]):
        memo = StoredMemo(step, {"data": seq + 41}, name, "step", seq, NOW)
        assert dev.store._tx.insert_memo(run_id, memo)
    page = await dev.client.get(f"/ui/runs/{run_id}")
    assert 'id="rerun"' in page.text and page.text.count('class="button tiny rerun-from"') == 2

    reply = await dev.post(f"/ui/runs/{run_id}/rerun", from_step="s2")

    assert reply.status_code == 303
    new_id = reply.headers["location"].split("/ui/runs/")[1].split("?")[0]
    state = await dev.store.run_state(new_id)
    assert state is not None and [m.name for m in state.memos] == ["load"]
    shown = await dev.client.get(reply.headers["location"])
    assert 'id="rerun-of"' in shown.text and run_id in shown.text
    wrong = await dev.post(f"/ui/runs/{run_id}/rerun", from_step="nope")
    assert wrong.status_code == 400 and "not a step of this run" in wrong.text
    assert 'id="run-error"' in wrong.text and 'id="rerun"' in wrong.text
    await dev.post("/ui/functions/app-a/pause")
    paused = await dev.post(f"/ui/runs/{run_id}/rerun")
    assert paused.status_code == 409 and "is paused" in paused.text


async def test_a_paused_function_counts_its_skipped_events_and_a_bulk_replay_runs_them(
    dev: Ui,
) -> None:
    paused = await dev.post("/ui/functions/app-a/pause")
    assert paused.status_code == 303 and paused.headers["location"].endswith("?done=paused")
    for n in (1, 2):
        await dev.send("app/x", n=n)
    page = (await dev.client.get("/ui/functions/app-a")).text
    assert 'id="paused-note"' in page and '<b id="skipped-count">2</b>' in page
    assert 'id="resume"' in page and 'id="pause"' not in page

    assert (await dev.post("/ui/functions/app-a/resume")).status_code == 303
    query = "kind=replay&status=Skipped&since=2027-01-01T00:00&name=after+the+pause"
    preview = await dev.client.get(f"/ui/functions/app-a/bulk?{query}")
    assert preview.status_code == 200 and '<b id="preview-count">2</b>' in preview.text
    form = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', preview.text))
    made = await dev.post("/ui/bulk", **{k: v for k, v in form.items() if k != "csrf"})
    assert made.status_code == 303
    op_page = await dev.client.get(made.headers["location"])
    assert op_page.status_code == 200 and "after the pause" in op_page.text
    while await dev.server.bulk.step():
        pass
    done = (await dev.client.get(made.headers["location"])).text
    assert 'id="bulk-state">done<' in done and '<span class="stat" id="bulk-changed">2<' in done
    assert 'data-live=""' in done
    runs = await dev.store.runs(RunFilter(function_slug="app-a"))
    assert len(runs.runs) == 2


async def test_a_bulk_preview_refuses_an_empty_range_or_no_status(dev: Ui) -> None:
    empty = await dev.client.get(
        "/ui/functions/app-a/bulk?kind=replay&status=Failed&since=2099-01-01T00:00"
    )
    none = await dev.client.get("/ui/functions/app-a/bulk?kind=cancel")
    assert empty.status_code == none.status_code == 400
    assert "time range is empty" in empty.text and "statuses is empty" in none.text


async def test_invoke_from_the_function_page_starts_a_run_with_the_json_data(dev: Ui) -> None:
    reply = await dev.post("/ui/functions/app-tick/invoke", data='{"order": "o-9"}')

    assert reply.status_code == 303 and reply.headers["location"].endswith("?done=invoked")
    run_id = reply.headers["location"].split("/ui/runs/")[1].split("?")[0]
    state = await dev.store.run_state(run_id)
    assert state is not None and state.run.function_slug == "app-tick"
    assert state.events[0].data["order"] == "o-9"
    bad = await dev.post("/ui/functions/app-tick/invoke", data="[1, 2")
    assert bad.status_code == 400 and "not valid JSON" in bad.text and "[1, 2" in bad.text
    page = (await dev.client.get("/ui/functions/app-tick")).text
    assert 'id="run-now"' in page and 'id="next-fires"' in page


async def test_an_event_sent_from_the_events_page_says_why_functions_did_not_run(
    dev: Ui,
) -> None:
    await dev.post("/ui/functions/other-b/pause")

    reply = await dev.post("/ui/events/send", name="app/x", data='{"n": 3}')

    assert reply.status_code == 303 and "?done=sent" in reply.headers["location"]
    page = (await dev.client.get(reply.headers["location"])).text
    ran = re.findall(
        r'<tr data-run="\w+"><td>.*?</td><td><a class="run-link" href="[^"]+">([\w-]+)<', page
    )
    assert ran == ["app-a"]
    why = dict(
        re.findall(r'<li data-function="([\w-]+)">.*?<div class="reason[^"]*">([^<]+)<', page)
    )
    # A recorded skip, or (on a store that records none for a condition) our own reading.
    assert re.search(
        r"event\.data\.n &gt; 10.*is false|not true: event\.data\.n &gt; 10", why["app-big"]
    )
    assert why["other-b"] == "Skipped: function paused"
    assert why["app-tick"].startswith("It is triggered by cron")
    bad = await dev.post("/ui/events/send", name="", data="{}")
    assert bad.status_code == 400 and 'id="send-error"' in bad.text


async def test_a_viewer_sees_none_of_the_new_buttons_and_forged_posts_get_403(
    start: Ui,
) -> None:
    event_id = await start.send("app/x", n=1)
    run_id = await start.run_of(event_id)
    await start.store.create_user(User("u-vic", "vic", "viewer", hash_password(PASSWORD), NOW))
    login = {"mode": "user", "name": "vic", "password": PASSWORD}
    await start.client.post("/ui/login", data=login, headers=ORIGIN)

    pages = {
        path: (await start.client.get(path)).text
        for path in [f"/ui/runs/{run_id}", "/ui/functions/app-tick", "/ui/events", "/ui/bulk"]
    }
    for marker in ['id="rerun"', "rerun-from", 'id="pause"', 'id="invoke', 'id="run-now"']:
        assert all(marker not in text for text in pages.values()), marker
    assert 'id="bulk-form"' not in pages["/ui/functions/app-tick"]
    assert 'id="send-form"' not in pages["/ui/events"]
    csrf = await start.csrf("/ui/runs")
    for path, fields in [
        (f"/ui/runs/{run_id}/rerun", {}),
        ("/ui/functions/app-a/pause", {}),
        ("/ui/functions/app-a/invoke", {"data": "{}"}),
        ("/ui/events/send", {"name": "app/x", "data": "{}"}),
        ("/ui/bulk", {"kind": "cancel", "function": "app-a", "statuses": "Queued"}),
    ]:
        forged = await start.client.post(path, data={"csrf": csrf, **fields}, headers=ORIGIN)
        assert forged.status_code == 403 and "viewer" in forged.text, path
    assert await start.store.paused_functions() == {}
    assert len(await start.store.runs_for_event(event_id)) == 2


async def test_an_expression_search_over_many_runs_stops_and_links_to_search_on(dev: Ui) -> None:
    rare = await dev.run_of(await dev.send("app/x", n=99))
    dev.clock.advance(1)
    await dev.store.save_app(
        App("http://y.test/api/inngest", "y", sdk="py:v0.5.19"),
        [Function("y-y", "http://y.test/api/inngest", "y", "u", (Trigger(event="other/y"),))],
    )
    await dev.server.reload_functions()
    for _ in range(11):
        sent = await dev.client.post("/e/k", json=[{"name": "other/y", "data": {}}] * 500)
        assert sent.status_code == 200, sent.text

    first = await dev.client.get("/ui/runs", params={"expr": "event.data.n == 99"})

    assert "Searched 5000 runs" in first.text and 'id="search-on"' in first.text
    assert rare not in first.text
    link = re.search(r'href="([^"]+)" id="search-on"', first.text)
    assert link is not None
    second = await dev.client.get(link.group(1).replace("&amp;", "&"))
    assert rare in second.text and 'id="search-on"' not in second.text, re.findall(
        r"Searched[^<]+", second.text
    )
