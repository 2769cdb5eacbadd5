"""timeouts.start: a run held back by flow control longer than its start timeout is
cancelled with the reason, and makes no call to the app."""

from __future__ import annotations

import pytest

from .harness import Stack, start_app_stack

pytestmark = pytest.mark.acceptance


@pytest.mark.timeout(90)
def test_a_run_throttled_past_its_start_timeout_is_cancelled_with_the_reason(
    stack: Stack,
) -> None:
    core = start_app_stack(stack, "apps.timeout_app:app", ["accept-start-throttled"])
    server = core.server
    first, second = server.send(
        {"name": "start/go", "data": {"n": 1}}, {"name": "start/go", "data": {"n": 2}}
    )
    (done,) = server.runs_for_event(first)
    assert done["status"] == "Completed" and done["output"] == "started 1", done
    (late,) = server.runs_for_event(second)
    assert late["status"] == "Cancelled", late
    assert "timeouts.start" in str(late["inlet"]["error"]), late
    history = server.http.get(f"/v1/runs/{late['run_id']}/history").json()["data"]
    assert all(row["status_code"] == 0 for row in history), history
