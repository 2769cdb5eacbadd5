"""Bad input is refused with a message naming it; bad or absent apps do not lose runs."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest

from .harness import CoreStack, Stack, start_core

pytestmark = pytest.mark.acceptance


def _refused(resp: Any) -> dict[str, Any]:
    assert resp.status_code == 400, f"expected 400, got {resp.status_code}: {resp.text}"
    body: dict[str, Any] = resp.json()
    assert body.get("status") == 400, body
    assert isinstance(body.get("error"), str) and body["error"], body
    assert isinstance(body.get("ids"), list), body
    return body


@pytest.mark.timeout(60)
def test_a_malformed_json_body_is_refused_with_400_naming_the_problem(core: CoreStack) -> None:
    body = _refused(core.server.post_raw(b'{"name": "accept/item", "data": {'))
    assert "json" in body["error"].lower(), body
    assert body["ids"] == []


@pytest.mark.timeout(60)
def test_a_send_without_an_event_key_in_the_path_says_where_events_go(core: CoreStack) -> None:
    resp = core.server.http.post("/e/", content=b'{"name": "accept/item"}')
    body = _refused(resp)
    assert "POST /e/{event_key}" in body["error"], body


@pytest.mark.timeout(60)
def test_an_event_whose_data_is_not_an_object_is_refused_naming_the_field(
    core: CoreStack,
) -> None:
    body = _refused(core.server.post_events({"name": "accept/item", "data": [1, 2]}))
    assert "event[0].data" in body["error"], body
    assert body["ids"] == []


@pytest.mark.timeout(60)
def test_an_event_with_a_fractional_ts_is_refused(core: CoreStack) -> None:
    body = _refused(
        core.server.post_events({"name": "accept/item", "data": {}, "ts": 1700000000000.5})
    )
    assert "event[0].ts" in body["error"], body
    assert body["ids"] == []


@pytest.mark.timeout(60)
def test_an_event_name_in_the_reserved_inngest_namespace_is_refused(core: CoreStack) -> None:
    body = _refused(core.server.post_events({"name": "inngest/function.failed", "data": {"x": 1}}))
    assert "event[0].name" in body["error"], body
    assert body["ids"] == []


@pytest.mark.timeout(90)
def test_events_before_a_bad_one_in_an_array_are_accepted_and_start_runs(
    core: CoreStack,
) -> None:
    key = uuid.uuid4().hex
    events = [
        {"name": "accept/item", "data": {"i": 0, "key": key}},
        {"name": "accept/item", "data": {"i": 1, "key": key}},
        {"name": "accept/item", "data": "not an object"},
        {"name": "accept/item", "data": {"i": 3, "key": key}},
    ]
    body = _refused(core.server.post_events(events))

    assert "event[2].data" in body["error"], body
    assert len(body["ids"]) == 2, body
    for i, event_id in enumerate(body["ids"]):
        (run,) = core.server.runs_for_event(event_id)
        assert run["status"] == "Completed", run
        assert run["output"] == {"i": i, "key": key}


def _text(rows: list[dict[str, Any]]) -> str:
    return json.dumps(rows).lower()


@pytest.mark.timeout(120)
def test_a_200_reply_without_the_sdk_header_is_an_error_and_is_retried(stack: Stack) -> None:
    core = start_core(stack)
    # Swap the real app for a plain web app answering 200 {} on the same URL.
    core.app.stop()
    stack.app("apps.plain_app:app", server_url=core.server.url, port=core.app.port, sdk=False)

    key = uuid.uuid4().hex
    event_id = core.server.send_one("accept/patient", {"key": key})
    (run,) = core.server.runs_for_event(event_id, ended=False)

    sdk_header = re.compile(r"x-inngest-sdk|not come from an inngest sdk|sdk header")
    rows = core.server.wait_history(
        run["run_id"],
        lambda rows: len(rows) >= 2 and bool(sdk_header.search(_text(rows))),
        "two or more attempts with an error about the missing X-Inngest-SDK header",
    )

    assert any(r.get("error") for r in rows), rows
    assert core.server.run(run["run_id"])["status"] != "Completed"
    assert core.records.count("step", fn="patient", key=key) == 0


@pytest.mark.timeout(150)
def test_a_run_whose_app_is_unreachable_is_retried_and_completes_when_the_app_returns(
    stack: Stack,
) -> None:
    # 20 retries one second apart leave ample time to restart the app.
    core = start_core(stack, retry_interval=1.0)
    core.app.stop()

    key = uuid.uuid4().hex
    event_id = core.server.send_one("accept/patient", {"key": key})
    (run,) = core.server.runs_for_event(event_id, ended=False)

    connection_error = re.compile(r"connect|refused|unreachable")
    rows = core.server.wait_history(
        run["run_id"],
        lambda rows: len(rows) >= 1 and bool(connection_error.search(_text(rows))),
        "an attempt recorded with a connection error",
    )
    assert core.server.run(run["run_id"])["status"] == "Running", rows

    core.app.start()
    done = core.server.wait_run(
        run["run_id"], lambda r: r["status"] in {"Completed", "Failed"}, "ended", timeout=60
    )

    assert done["status"] == "Completed", done
    assert done["output"] == f"done-{key}"
    assert core.records.count("step", fn="patient", key=key) == 1
    rows = core.server.history(run["run_id"])
    assert connection_error.search(_text(rows)), rows
