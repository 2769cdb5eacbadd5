"""Events start runs: fan-out to every matching function, expression filters, batches."""

from __future__ import annotations

import time
import uuid

import pytest

from .harness import CoreStack

pytestmark = pytest.mark.acceptance


@pytest.mark.timeout(90)
def test_one_event_starts_one_run_of_each_function_listening_for_it(core: CoreStack) -> None:
    key = uuid.uuid4().hex
    event_id = core.server.send_one("accept/fanout", {"key": key})

    runs = core.server.runs_for_event(event_id, count=2)

    by_fn = {r["function_id"]: r for r in runs}
    assert set(by_fn) == {"accept-fanout-a", "accept-fanout-b"}, runs
    assert by_fn["accept-fanout-a"]["output"] == {"fn": "a", "key": key}
    assert by_fn["accept-fanout-b"]["output"] == {"fn": "b", "key": key}
    for run in runs:
        assert run["status"] == "Completed", run
        assert run["event_id"] == event_id, run
    assert runs[0]["run_id"] != runs[1]["run_id"]
    assert core.records.count("run", fn="fanout-a", key=key) == 1
    assert core.records.count("run", fn="fanout-b", key=key) == 1


@pytest.mark.timeout(90)
def test_a_trigger_expression_admits_matching_events_and_ignores_the_rest(
    core: CoreStack,
) -> None:
    # event.data.n > 1
    low, high = core.server.send(
        {"name": "accept/expr", "data": {"n": 1}},
        {"name": "accept/expr", "data": {"n": 2}},
    )

    (run,) = core.server.runs_for_event(high, count=1)
    assert run["function_id"] == "accept-expr"
    assert run["status"] == "Completed", run
    assert run["output"] == {"n": 2}

    # Both events were accepted in one request, so their matching is already decided;
    # the grace period only guards against a slow, asynchronous matcher.
    time.sleep(1.0)
    assert core.server.runs(low) == []


@pytest.mark.timeout(90)
def test_an_array_of_ten_events_starts_ten_runs(core: CoreStack) -> None:
    key = uuid.uuid4().hex
    ids = core.server.send(
        *({"name": "accept/item", "data": {"i": i, "key": key}} for i in range(10))
    )

    assert len(ids) == 10
    for i, event_id in enumerate(ids):
        (run,) = core.server.runs_for_event(event_id, count=1)
        assert run["function_id"] == "accept-item"
        assert run["status"] == "Completed", run
        assert run["output"] == {"i": i, "key": key}
