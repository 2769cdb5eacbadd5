"""Syncing apps: functions appear, late apps are picked up, removed functions stop running."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from .harness import CORE_FUNCTIONS, CoreStack, Stack, free_port

pytestmark = pytest.mark.acceptance

SYNC_FUNCTIONS = {"accept-sync-keep", "accept-sync-drop"}


@pytest.mark.timeout(90)
def test_every_function_of_a_synced_app_is_listed_by_get_dev(core: CoreStack) -> None:
    listed = core.server.registered_ids()
    missing = [fn for fn in CORE_FUNCTIONS if fn not in listed]
    assert not missing, f"GET /dev lacks {missing}: {core.server.dev_info()}"


@pytest.mark.timeout(120)
def test_an_app_that_comes_up_after_the_server_is_synced_by_polling(stack: Stack) -> None:
    app_port = free_port()
    app_url = f"http://127.0.0.1:{app_port}/api/inngest"
    server = stack.server([app_url], poll_interval=0.5)

    # A few poll rounds against the unreachable URL must neither crash nor invent functions.
    time.sleep(1.5)
    server.process.assert_running()
    assert not SYNC_FUNCTIONS & server.registered_ids()

    stack.app("apps.sync_app:app", server_url=server.url, port=app_port)
    server.wait_functions(SYNC_FUNCTIONS)

    event_id = server.send_one("accept-sync/ping", {"key": uuid.uuid4().hex})
    runs = server.runs_for_event(event_id, count=2)
    assert {r["function_id"] for r in runs} == SYNC_FUNCTIONS
    assert {r["status"] for r in runs} == {"Completed"}, runs


@pytest.mark.timeout(150)
def test_a_function_removed_from_an_app_is_not_triggered_after_the_next_sync(
    stack: Stack,
) -> None:
    server_port = free_port()
    app = stack.app("apps.sync_app:app", server_url=f"http://127.0.0.1:{server_port}")
    server = stack.server([app.url], port=server_port, poll_interval=0.5)
    server.wait_functions(SYNC_FUNCTIONS)

    before = server.send_one("accept-sync/ping", {"key": uuid.uuid4().hex})
    runs = server.runs_for_event(before, count=2)
    assert {r["function_id"] for r in runs} == SYNC_FUNCTIONS

    app.stop()
    app.env = {"ACCEPT_SYNC_DROP": "1"}
    app.start()
    # Sync explicitly, as a deploy script would (`curl -X PUT <app url>`); the SDK then
    # registers its new function set with the server. The server's own polling may
    # sync it too, which is harmless.
    resp = httpx.put(app.url, timeout=30.0)
    assert resp.status_code == 200, f"PUT {app.url}: {resp.status_code} {resp.text}"
    # Python SDK 0.5.19 answers 200 even when registration failed, with the error body.
    assert "error" not in resp.json(), resp.text

    after = server.send_one("accept-sync/ping", {"key": uuid.uuid4().hex})
    runs = server.runs_for_event(after, count=1)
    # Runs are created when the event is accepted; give a straggler a moment anyway.
    time.sleep(1.0)
    runs = server.runs(after)
    assert [r["function_id"] for r in runs] == ["accept-sync-keep"], runs
    assert runs[0]["status"] == "Completed"
    assert runs[0]["output"] == "kept"
