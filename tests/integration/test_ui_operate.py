"""The dashboard's operating views in process: the alerts page and the navigation's count
of firing alerts, the runs that can no longer move (the stuck view), the runs each event
of the events list started or why none did (in a fixed number of statements a page), and
what the function page's live stream watches."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from inlet.clock import FakeClock
from inlet.config import Settings
from inlet.model import App, Event, Function, Run, RunStatus, SkipRecord, Trigger
from inlet.server import Server, create_app
from inlet.store import Store
from inlet.store.alerts import Alert
from inlet.store.memory import MemoryStore
from inlet.store.outcomes import EventOutcome
from inlet.store.relational import RelationalStore
from inlet.store.sqlite import SQLiteStore
from inlet.ui.events import started
from inlet.ui.services import Services
from inlet.ui.stream import Stream

from .test_ui import APP, NOW, PASSWORD, START, Ui

FAILING = {
    "message": "charge: the last 10 finished runs failed; the newest with KeyError: 'STRIPE'",
    "function": "app-a",
    "app": APP,
    "error": "KeyError: 'STRIPE'",
    "run_id": "01RUNFAILED",
}


@dataclass
class Dash(Ui):
    server: Server

    def services(self) -> Services:
        s = self.server
        return Services(
            s.store,
            s.clock,
            s.registry,
            s.canceller,
            s.syncer,
            s.rerunner,
            s.pauser,
            s.bulk,
            s.ingestor,
            s.invoker,
        )


async def serve(settings: Settings, store: Store) -> AsyncIterator[Dash]:
    clock = FakeClock(NOW)
    app = create_app(settings, store=store, clock=clock)
    await store.open()
    fn = Function("app-a", APP, "a", f"{APP}?fnId=app-a", (Trigger(event="app/x"),))
    await store.save_app(App(APP, "app", sdk="py:v0.5.19"), [fn])
    server: Server = app.state.server
    await server.reload_functions()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://inlet") as client:
        yield Dash(client, store, clock, server)  # type: ignore[arg-type]
    await store.close()


@pytest.fixture
async def dev() -> AsyncIterator[Dash]:
    async for ui in serve(Settings(), MemoryStore()):
        yield ui


@pytest.fixture
async def start() -> AsyncIterator[Dash]:
    async for ui in serve(START, MemoryStore()):
        yield ui


def failing(alert_id: str, at: float) -> Alert:
    return Alert(alert_id, "function.failing", "app-a", "firing", at, FAILING)


def firing_count(page: str) -> str | None:
    found = re.search(r'id="firing-count"[^>]*>([^<]+)<', page)
    return found.group(1) if found else None


async def test_the_alerts_page_lists_firing_and_resolved_alerts_newest_first(dev: Dash) -> None:
    await dev.store.fire(Alert("al-1", "app.unreachable", APP, "firing", NOW - 600, {}), [], NOW)
    await dev.store.resolve("app.unreachable", APP, NOW - 300, [])
    await dev.store.fire(
        Alert("al-2", "function.failing", "app-a", "firing", NOW - 60, FAILING), [], NOW
    )

    page = (await dev.client.get("/ui/alerts")).text

    assert page.index('data-alert="al-2"') < page.index('data-alert="al-1"')
    assert "KeyError: &#39;STRIPE&#39;" in page and 'href="/ui/runs/01RUNFAILED"' in page
    assert 'href="/ui/functions/app-a"' in page
    assert "resolved after 5 min 0 s" in page and "<dd>2027-01-15 07:55:00 UTC</dd>" in page
    assert "Function failing" in page and "App unreachable" in page
    firing = (await dev.client.get("/ui/alerts?state=firing")).text
    assert 'data-alert="al-2"' in firing and 'data-alert="al-1"' not in firing
    resolved = (await dev.client.get("/ui/alerts?state=resolved")).text
    assert 'data-alert="al-1"' in resolved and 'data-alert="al-2"' not in resolved


SLACK = "https://hooks.slack.com/services/T000/B000/secret-part"
HOOK = "http://127.0.0.1:9/hook?token=secret-token"


async def test_each_alert_says_where_its_news_stands_at_each_webhook_without_its_secret(
    dev: Dash,
) -> None:
    await dev.store.fire(failing("al-3", NOW - 60), [SLACK, HOOK], NOW - 60)
    slack, hook = await dev.store.due_deliveries(NOW, 10)
    await dev.store.mark_delivered(slack.id, NOW - 50)
    await dev.store.mark_failed(hook.id, "HTTP 503 from the receiver", NOW + 120)

    page = (await dev.client.get("/ui/alerts")).text
    body = (await dev.client.get("/v1/alerts")).json()["data"]

    assert 'data-delivery="delivered"' in page and 'data-delivery="retrying"' in page
    assert "Slack https://hooks.slack.com/…" in page and "webhook http://127.0.0.1:9/…" in page
    assert "HTTP 503 from the receiver" in page and "next in 2 min" in page
    [alert] = body
    assert [(d["target"], d["attempts"], d["last_error"]) for d in alert["deliveries"]] == [
        ("Slack https://hooks.slack.com/…", 1, None),
        ("webhook http://127.0.0.1:9/…", 1, "HTTP 503 from the receiver"),
    ]
    assert alert["deliveries"][0]["next_at"] is None
    for shown in (page, str(body)):
        assert "secret" not in shown


async def test_an_alert_about_events_that_start_no_run_links_to_them(dev: Dash) -> None:
    summary = {"message": "3 events started no run", "function": "app-a", "event": "app/x"}
    await dev.store.fire(Alert("al-4", "events.no_runs", "app-a", "firing", NOW, summary), [], NOW)

    page = (await dev.client.get("/ui/alerts")).text

    assert "Events start no run" in page and 'href="/ui/events?name=app/x"' in page


async def test_every_page_counts_the_firing_alerts_in_its_navigation(dev: Dash) -> None:
    assert firing_count((await dev.client.get("/ui/runs")).text) is None
    await dev.store.fire(
        Alert("al-2", "function.failing", "app-a", "firing", NOW, FAILING), [], NOW
    )
    await dev.store.fire(Alert("al-3", "queue.late", "queue", "firing", NOW, {}), [], NOW)

    for path in ["/ui/runs", "/ui/functions", "/ui/functions/app-a", "/ui/events", "/ui/apps"]:
        assert firing_count((await dev.client.get(path)).text) == "2", path

    await dev.store.resolve("queue.late", "queue", NOW + 1, [])
    assert firing_count((await dev.client.get("/ui/bulk")).text) == "1"


async def test_the_login_page_tells_a_stranger_nothing_of_the_alerts(start: Dash) -> None:
    await start.store.fire(
        Alert("al-2", "function.failing", "app-a", "firing", NOW, FAILING), [], NOW
    )
    assert (await start.client.get("/ui/alerts")).status_code == 303
    login = (await start.client.get("/ui/login")).text
    assert firing_count(login) is None and "STRIPE" not in login


async def lose_work(store: Store, run_id: str) -> None:
    """What a crash or a bug leaves: the run's queue items gone, nothing else changed."""
    assert isinstance(store, MemoryStore)
    store._tx.drop_run_items(run_id)


async def test_the_stuck_view_lists_runs_that_can_no_longer_move_with_why(dev: Dash) -> None:
    stuck, moving = await dev.run_id(), await dev.run_id()
    await lose_work(dev.store, stuck)
    dev.clock.advance(120)

    page = (await dev.client.get("/ui/runs?stuck=1")).text

    assert f'data-run="{stuck}"' in page and f'data-run="{moving}"' not in page
    assert "Queued 2 min 0 s ago and never called" in page
    assert f'action="/ui/runs/{stuck}/cancel"' in page, "an admin may cancel a stuck run"
    of_other = (await dev.client.get("/ui/runs?stuck=1&function=nope")).text
    assert f'data-run="{stuck}"' not in of_other and 'id="no-stuck"' in of_other
    assert 'id="stuck-filter"' in (await dev.client.get("/ui/runs")).text


async def test_a_viewer_sees_the_stuck_runs_without_a_cancel_button(start: Dash) -> None:
    stuck = await start.run_id()
    await lose_work(start.store, stuck)
    start.clock.advance(120)
    await start.user("vic", "viewer")
    await start.login(mode="user", name="vic", password=PASSWORD)

    page = await start.client.get("/ui/runs?stuck=1")

    assert page.status_code == 200 and f'data-run="{stuck}"' in page.text
    assert "/cancel" not in page.text and 'name="csrf"' not in page.text.split("</nav>", 1)[1]


async def test_the_events_list_shows_the_runs_each_event_started_or_why_none(dev: Dash) -> None:
    ran = await dev.run_id()
    await dev.server.pauser.pause("app-a")
    skipped = (await dev.client.post("/e/k", json={"name": "app/x", "data": {}})).json()["ids"][0]
    unheard = (await dev.client.post("/e/k", json={"name": "app/nobody", "data": {}})).json()
    [run] = await dev.store.list_runs(None, active=False)

    page = (await dev.client.get("/ui/events")).text

    rows = {m[0]: m[1] for m in re.findall(r'<tr data-event="([^"]+)"(.*?)</tr>', page, re.S)}
    [started] = [row for row in rows.values() if f'href="/ui/runs/{ran}"' in row]
    assert ">1 run</a>" in started and run.id == ran
    assert "paused" in rows[skipped] and "app-a" in rows[skipped]
    assert "No function listens" in rows[unheard["ids"][0]]


async def statements_of(client: httpx.AsyncClient, store: RelationalStore, path: str) -> int:
    seen: list[str] = []
    db: sqlite3.Connection = store._sqlite  # type: ignore[attr-defined]
    db.set_trace_callback(seen.append)
    try:
        assert (await client.get(path)).status_code == 200
    finally:
        db.set_trace_callback(None)
    return len(seen)


async def test_the_events_page_costs_the_same_statements_for_5_events_as_for_50(
    tmp_path: Path,
) -> None:
    async for ui in serve(Settings(), SQLiteStore(str(tmp_path / "inlet.db"))):
        client, store = ui.client, ui.store
        assert isinstance(store, RelationalStore)
        for n in range(5):
            await client.post("/e/k", json={"name": "app/x", "data": {"n": n}})
        few = await statements_of(client, store, "/ui/events")
        for n in range(45):
            await client.post("/e/k", json={"name": "app/x", "data": {"n": n}})
        many = await statements_of(client, store, "/ui/events")
        page = (await client.get("/ui/events")).text

        assert page.count("<tr data-event=") == 50 and page.count(">1 run</a>") == 50
        assert many == few, "a page of events reads the same whatever its size"


async def test_the_function_page_stream_sees_new_runs_a_pause_and_ended_runs(dev: Dash) -> None:
    look = Stream(dev.services())._function("app-a")
    quiet = await look()
    assert await look() == quiet

    run_id = await dev.run_id()
    started = await look()
    assert started != quiet

    await dev.server.pauser.pause("app-a")
    paused = await look()
    assert paused != started

    await dev.server.canceller.cancel(run_id, "test")
    assert await look() != paused
    run = await dev.store.get_run(run_id)
    assert run is not None and run.status is RunStatus.CANCELLED


async def test_the_function_page_says_where_its_live_stream_is(dev: Dash) -> None:
    page = (await dev.client.get("/ui/functions/app-a")).text
    assert 'data-live="/ui/stream?function=app-a"' in page


def test_an_event_that_started_several_runs_links_to_its_own_page() -> None:
    event = Event("01EV", "app/x", {}, "01EV", 0)
    runs = tuple(
        Run(f"01RUN{n}", f"fn-{n}", ("01EV",), status, NOW)
        for n, status in enumerate([RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.COMPLETED])
    )
    skip = SkipRecord("01EV", "fn-9", "the function is paused")
    fn = Function("fn-0", APP, "a", APP, (Trigger(event="app/*"),))

    found = started(event, EventOutcome(runs, (skip,)), [fn])

    assert (found.count, found.link) == (3, "/ui/events/01EV")
    assert found.statuses == ("Completed", "Failed")
    assert (found.skipped, found.more_skips) == ("fn-9: the function is paused", 0)
    alone = started(event, EventOutcome(runs[:1]), [fn])
    assert alone.link == "/ui/runs/01RUN0" and alone.listened
    other = Event("01EW", "billing/x", {}, "01EW", 0)
    assert not started(other, EventOutcome(), [fn]).listened
