"""A failed run emits inngest/function.failed, which drives on_failure handlers and listeners."""

from __future__ import annotations

import uuid

import pytest

from .harness import CoreStack, wait_for

pytestmark = pytest.mark.acceptance


@pytest.mark.timeout(90)
def test_an_on_failure_handler_receives_the_original_event_and_the_error(
    core: CoreStack,
) -> None:
    key = uuid.uuid4().hex
    event_id = core.server.send_one("accept/with-failure", {"key": key})
    (run,) = core.server.runs_for_event(event_id)
    assert run["status"] == "Failed", run

    (received,) = wait_for(
        lambda: core.records.find("on_failure", key=key),
        60,
        "the on_failure handler to run",
        describe=lambda: str(core.records.find("on_failure")),
    )

    assert received["name"] == "inngest/function.failed"
    data = received["data"]
    assert data["function_id"] == "accept-with-failure"
    assert data["run_id"] == run["run_id"]
    assert data["event"]["name"] == "accept/with-failure"
    assert data["event"]["data"] == {"key": key}
    error = data["error"]
    assert isinstance(error["name"], str) and error["name"], error
    assert f"boom {key}" in error["message"], error


@pytest.mark.timeout(90)
def test_a_function_triggered_by_function_failed_runs_when_another_function_fails(
    core: CoreStack,
) -> None:
    key = uuid.uuid4().hex
    event_id = core.server.send_one("accept/no-retries", {"key": key})
    (run,) = core.server.runs_for_event(event_id)
    assert run["status"] == "Failed", run

    (watched,) = wait_for(
        lambda: [
            r
            for r in core.records.find("watched_failure")
            if r["data"].get("run_id") == run["run_id"]
        ],
        60,
        "the inngest/function.failed listener to run for the failed run",
        describe=lambda: str(core.records.find("watched_failure")),
    )

    assert watched["data"]["function_id"] == "accept-no-retries"
    assert watched["data"]["event"]["data"] == {"key": key}
    # The failed event's id is the run id, so a repeated emission cannot start a second run.
    assert watched["event_id"] == run["run_id"]
