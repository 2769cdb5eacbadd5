"""The TypeScript SDK, both lines (``inngest@3`` and ``inngest@4``), against the real server.

One ``inlet dev`` on SQLite and two Node apps (``node-v3``, ``node-v4``; the same source,
``tests/node/apps/functions.js``) serve the whole module: each test sends events named for
one app and reads what its step bodies journalled, so the apps start once per SDK line.
Every step body records the test's unique key, so "ran once" is a count of journal lines.
The apps get nothing but the SDK's own environment variables (``INNGEST_DEV``). The server
sends ``ctx.fn_id``, so v4 runs several steps in one request and checkpoints them
(``tests/acceptance/test_checkpoint_node.py``); v3 runs one step per request.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from ports import free_port

from .conftest import STACK_KEY
from .harness import TERMINAL, InletServer, Records, sha1_hex, wait_for
from .node_app import LINES, NodeStack, dev_env, require_node

pytestmark = [pytest.mark.acceptance, pytest.mark.timeout(120)]

FUNCTIONS = [
    "multi",
    "parallel",
    "sleeper",
    "waiter",
    "child",
    "parent",
    "sender",
    "receiver",
    "flaky",
    "parallel-flaky",
    "doomed",
    "invokes-doomed",
    "step-gives-up",
    "catcher",
    "odd-steps",
    "slow-child",
    "batched",
    "configured",
    "with-failure",
    "non-retriable",
    "retry-after",
    "cancellable",
    "ticker",
    "single",
    "limited",
]


class Node:
    """The module's server and its two TypeScript apps."""

    def __init__(self, stack: NodeStack, server: InletServer) -> None:
        self.stack = stack
        self.server = server
        self.records: Records = stack.records

    def send(self, line: str, name: str, **data: Any) -> tuple[str, str]:
        """Send ``node-v{line}/{name}`` with a fresh key; return (event id, key)."""
        key = data.pop("key", None) or uuid.uuid4().hex
        event_id = self.server.send_one(f"node-v{line}/{name}", {"key": key, **data})
        return event_id, key

    def run_of(self, event_id: str, timeout: float = 60.0) -> dict[str, Any]:
        (run,) = self.server.runs_for_event(event_id, timeout=timeout)
        return run

    def calls(self, run_id: str) -> list[dict[str, Any]]:
        return self.records.find("call", run_id=run_id)

    def wait_record(self, kind: str, what: str, **match: Any) -> dict[str, Any]:
        found = wait_for(lambda: self.records.find(kind, **match), 30.0, what)
        return found[0]


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    require_node()
    stack = NodeStack(tmp_path_factory.mktemp("node"))
    try:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        apps = [stack.node_app(line, f"node-v{line}", dev_env(url)) for line in LINES]
        server = stack.server([app.url for app in apps], port=port)
        server.wait_functions(f"node-v{line}-{fn}" for line in LINES for fn in FUNCTIONS)
        yield Node(stack, server)
    finally:
        stack.close()


@pytest.fixture(autouse=True)
def _logs_on_failure(request: pytest.FixtureRequest, node: Node) -> None:
    """Attach the module's process logs to a failing test's report (conftest's hook)."""
    request.node.stash[STACK_KEY] = node.stack


@pytest.fixture(params=LINES, ids=lambda line: f"v{line}")
def line(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


def _sdk_error(value: Any) -> dict[str, Any]:
    assert isinstance(value, dict), value
    assert {"name", "message", "stack"} <= set(value), value
    return value


def test_three_steps_each_run_once_and_every_call_grows_the_stack(node: Node, line: str) -> None:
    event_id, key = node.send(line, "multi", x=4)

    run = node.run_of(event_id)

    assert run["status"] == "Completed", run
    assert run["output"] == {"one": 5, "two": 50, "three": "50-three"}
    for step in ("one", "two", "three"):
        assert node.records.count("step", fn="multi", step=step, key=key) == 1, step
    calls = node.calls(run["run_id"])
    assert all(c["has_fn_id"] for c in calls), calls
    if line == "4":
        # v4 checkpoints: one request runs the three steps.
        assert [c["stack"] for c in calls] == [[]], calls
        return
    assert [c["stack"] for c in calls] == [
        [],
        [sha1_hex("one")],
        [sha1_hex("one"), sha1_hex("two")],
        [sha1_hex("one"), sha1_hex("two"), sha1_hex("three")],
    ], calls
    assert {c["version"] for c in calls[1:]} == {calls[-1]["version"]}, calls
    assert calls[-1]["version"] in (1, 2), calls


def test_parallel_steps_run_once_and_the_stack_lists_them_in_completion_order(
    node: Node, line: str
) -> None:
    event_id, key = node.send(line, "parallel")

    run = node.run_of(event_id)

    assert run["status"] == "Completed", run
    assert run["output"] == {"a": "A", "b": "B", "c": "C", "d": "ABCD"}
    for step in ("a", "b", "c", "d"):
        assert node.records.count("step", fn="parallel", step=step, key=key) == 1, step
    # The branches sleep 1600, 800 and 0 ms: they finish c, b, a, and the stack the
    # function sees afterwards says so.
    calls = node.calls(run["run_id"])
    final = calls[-1]["stack"]
    assert final[:3] == [sha1_hex("c"), sha1_hex("b"), sha1_hex("a")], final
    # v4 runs "d" in the last request and checkpoints it: no request comes after it.
    assert final[3:] == ([sha1_hex("d")] if line == "3" else []), final
    # Request version 1 (v3) keeps planning each step after a parallel group, so "d" gets
    # a call of its own; version 2 (v4) goes back to running it inline in the discovery.
    version = 1 if line == "3" else 2
    assert {c["version"] for c in calls[1:]} == {version}, calls
    targeted_d = [c for c in calls if c["step_id"] == sha1_hex("d")]
    assert len(targeted_d) == (1 if version == 1 else 0), calls


def test_sleeps_given_as_text_milliseconds_and_a_date_all_pass(node: Node, line: str) -> None:
    event_id, key = node.send(line, "sleep")

    run = node.run_of(event_id)

    assert run["status"] == "Completed", node.server.history(run["run_id"])
    # "1s", then 500 ms, then until 2 s after the first step: never less than 2 s in all.
    assert run["output"]["slept_ms"] >= 2000, run
    for step in ("before", "after"):
        assert node.records.count("step", fn="sleeper", step=step, key=key) == 1, step


def test_a_wait_for_event_resumes_with_the_matching_event_only(node: Node, line: str) -> None:
    event_id, key = node.send(line, "wait", timeout="60s")
    node.wait_record("step", "the waiter to reach its wait", fn="waiter", key=key)

    def resumed() -> dict[str, Any] | None:
        # Sent until the run ends: the wait exists only once the SDK has reported it, in
        # the call after the step above. Another key's event never resumes it.
        node.server.send_one(f"node-v{line}/approve", {"key": "someone-else", "ok": False})
        node.server.send_one(f"node-v{line}/approve", {"key": key, "ok": True})
        runs = node.server.runs(event_id)
        return runs[0] if runs and runs[0]["status"] in TERMINAL else None

    run = wait_for(resumed, 60.0, "the waiting run to end", interval=0.5)
    assert run["status"] == "Completed", run
    assert run["output"] == {"approved": {"key": key, "ok": True}}
    assert node.records.count("step", fn="waiter", key=key) == 1


def test_a_wait_for_event_times_out_with_null(node: Node, line: str) -> None:
    started = time.monotonic()
    event_id, key = node.send(line, "wait", timeout="2s")

    run = node.run_of(event_id)

    assert run["status"] == "Completed", run
    assert run["output"] == {"approved": None}
    assert time.monotonic() - started >= 2.0
    assert node.records.count("step", fn="waiter", key=key) == 1


def test_odd_step_shapes_a_loop_a_void_step_two_sends_an_if_wait_and_an_invoke_timeout(
    node: Node, line: str
) -> None:
    event_id, key = node.send(line, "odd")

    def resumed() -> dict[str, Any] | None:
        # The wait's expression wants ok == true: a false one never resumes it. Sent
        # until the run ends, since the wait exists only once the SDK reported it.
        node.server.send_one(f"node-v{line}/approve", {"key": key, "ok": False})
        node.server.send_one(f"node-v{line}/approve", {"key": key, "ok": True})
        runs = node.server.runs(event_id)
        return runs[0] if runs and runs[0]["status"] in TERMINAL else None

    run = wait_for(resumed, 60.0, "the odd-steps run to end", interval=0.5)

    assert run["status"] == "Completed", node.server.history(run["run_id"])
    output = dict(run["output"])
    waited = output.pop("waited")
    assert output == {
        "nothing": None,
        "looped": [0, 1, 2],
        "sent": 2,
        "invokeError": {
            "name": "InngestInvokeTimeoutError",
            "message": "Timed out waiting for invoked function to complete",
        },
    }, run
    assert waited["data"] == {"key": key, "ok": True}, run
    assert node.records.count("step", fn="odd-steps", step="nothing", key=key) == 1
    looped = node.records.find("step", fn="odd-steps", step="same-id", key=key)
    assert sorted(r["i"] for r in looped) == [0, 1, 2], looped
    for suffix in ("-1", "-2"):
        node.wait_record("received", "both sent events to run", key=key + suffix)


def test_a_batch_of_events_runs_once_with_all_of_them(node: Node, line: str) -> None:
    keys = [uuid.uuid4().hex for _ in range(3)]
    ids = node.server.send(*({"name": f"node-v{line}/batch", "data": {"key": k}} for k in keys))

    run = node.run_of(ids[0])

    assert run["status"] == "Completed", run
    assert run["output"] == {"size": 3}
    (batch,) = [b for b in node.records.find("batch") if set(b["keys"]) == set(keys)]
    assert batch["keys"] == keys


def test_debounce_throttle_rate_limit_priority_timeouts_and_idempotency_sync_and_run(
    node: Node, line: str
) -> None:
    event_id, key = node.send(line, "configured")

    run = node.run_of(event_id)

    assert run["status"] == "Completed", run
    assert run["output"] == {"key": key}
    assert node.records.count("run", fn="configured", key=key) == 1


def test_invoke_returns_the_child_functions_output(node: Node, line: str) -> None:
    event_id, key = node.send(line, "parent", n=7)

    run = node.run_of(event_id)

    assert run["status"] == "Completed", node.server.history(run["run_id"])
    assert run["output"] == {"child": {"square": 49, "key": key}, "total": 50}
    assert node.records.count("step", fn="child", key=key) == 1
    assert node.records.count("step", fn="parent", key=key) == 1


def test_an_event_sent_from_a_step_starts_the_function_it_triggers(node: Node, line: str) -> None:
    event_id, key = node.send(line, "send")

    run = node.run_of(event_id)

    assert run["status"] == "Completed", run
    (sent_id,) = run["output"]["ids"]
    received = node.wait_record("received", "the receiver to run", key=key)
    assert received["event_id"] == sent_id
    assert received["data"] == {"key": key, "from": "sender"}
    (receiver_run,) = node.server.runs_for_event(sent_id)
    assert receiver_run["function_id"] == f"node-v{line}-receiver"
    assert node.records.count("received", key=key) == 1


def test_a_failed_step_is_retried_and_its_error_is_kept_as_name_message_stack(
    node: Node, line: str
) -> None:
    event_id, key = node.send(line, "flaky")

    run = node.run_of(event_id)

    assert run["status"] == "Completed", run
    assert run["output"] == {"executions": 2}
    assert node.records.count("step", fn="flaky", key=key) == 2
    rows = node.server.history(run["run_id"])
    failed = [r for r in rows if r.get("error")]
    assert len(failed) == 1, rows
    error = failed[0]["error"]
    assert "TypeError" in error and f"wobble failed once for {key}" in error, failed


def test_a_parallel_branch_that_fails_once_is_retried_alone(node: Node, line: str) -> None:
    event_id, key = node.send(line, "parallel-flaky")

    run = node.run_of(event_id)

    assert run["status"] == "Completed", node.server.history(run["run_id"])
    assert run["output"] == {"out": ["steady1", "shaky2", "calm1"]}
    counts = {
        s: node.records.count("step", fn="parallel-flaky", step=s, key=key)
        for s in ("steady", "shaky", "calm")
    }
    assert counts == {"steady": 1, "shaky": 2, "calm": 1}, counts


def test_an_invoked_function_that_fails_throws_its_error_in_the_caller(
    node: Node, line: str
) -> None:
    event_id, key = node.send(line, "invoke-doomed")

    run = node.run_of(event_id)

    assert run["status"] == "Completed", node.server.history(run["run_id"])
    assert run["output"] == {"caught": {"name": "URIError", "message": f"doomed {key}"}}


def test_a_non_retriable_error_in_a_step_is_not_retried_and_reaches_the_function(
    node: Node, line: str
) -> None:
    event_id, key = node.send(line, "step-gives-up")

    run = node.run_of(event_id)

    assert run["status"] == "Completed", node.server.history(run["run_id"])
    assert run["output"] == {"caught": {"message": f"no point retrying {key}"}}
    assert node.records.count("step", fn="step-gives-up", key=key) == 1
    outcomes = [r["outcome"] for r in node.server.history(run["run_id"])]
    assert outcomes == ["step_failed", "completed"], outcomes


def test_a_step_that_exhausts_its_retries_throws_its_error_in_the_function(
    node: Node, line: str
) -> None:
    event_id, key = node.send(line, "catcher")

    run = node.run_of(event_id)

    assert run["status"] == "Completed", node.server.history(run["run_id"])
    message = f"always fails for {key}"
    assert node.records.count("step", fn="catcher", key=key) == 2
    # The memoised error comes back as {name, message, stack}: the SDK rethrows it as
    # the step's own error, class name and message intact.
    assert run["output"] == {"caught": {"name": "SyntaxError", "message": message}}
    rows = node.server.history(run["run_id"])
    errors = [r["error"] for r in rows if r.get("error")]
    assert errors and all(f"SyntaxError: {message}" in e for e in errors), rows


def test_on_failure_gets_the_error_as_name_message_stack(node: Node, line: str) -> None:
    event_id, key = node.send(line, "with-failure")

    run = node.run_of(event_id)

    assert run["status"] == "Failed", run
    error = _sdk_error(run["output"])
    assert (error["name"], error["message"]) == ("RangeError", f"boom {key}"), error
    assert error["stack"].startswith(f"RangeError: boom {key}"), error
    handled = node.wait_record("on_failure", "the failure handler to run", key=key)
    assert handled["name"] == "inngest/function.failed"
    seen = _sdk_error(handled["error"])
    assert (seen["name"], seen["message"]) == ("RangeError", f"boom {key}"), seen
    assert handled["handler_error"] == {"name": "RangeError", "message": f"boom {key}"}


def test_a_non_retriable_error_fails_the_run_at_once(node: Node, line: str) -> None:
    event_id, key = node.send(line, "non-retriable")

    run = node.run_of(event_id)

    assert run["status"] == "Failed", run
    error = _sdk_error(run["output"])
    assert error["message"] == "non-retriable: give up now", error
    # v3 serializes the class as "Error"; the stack names it either way.
    assert error["stack"].startswith("NonRetriableError: non-retriable"), error
    time.sleep(1.0)
    assert node.records.count("exec", fn="non-retriable", key=key) == 1


def test_retry_after_delays_the_next_attempt(node: Node, line: str) -> None:
    event_id, key = node.send(line, "retry-after")

    run = node.run_of(event_id)

    assert run["status"] == "Completed", run
    assert run["output"] == {"executions": 2}
    first, second = sorted(node.records.find("exec", fn="retry-after", key=key), key=_t)
    # RetryAfterError(..., 2000): the SDK asks for 2 s; a second or more is its mark.
    assert second["t"] - first["t"] >= 1.5, (first, second)
    assert second["attempt"] == first["attempt"] + 1, (first, second)


def test_a_cancel_on_event_cancels_the_sleeping_run(node: Node, line: str) -> None:
    event_id, key = node.send(line, "cancellable")
    node.wait_record("step", "the run to start", fn="cancellable", step="started", key=key)
    node.server.send_one(f"node-v{line}/cancel", {"key": "someone-else"})
    node.server.send_one(f"node-v{line}/cancel", {"key": key})

    run = node.run_of(event_id, timeout=30.0)

    assert run["status"] == "Cancelled", run
    assert node.records.count("step", fn="cancellable", step="never", key=key) == 0


def test_a_singleton_skips_an_event_while_its_run_is_going(node: Node, line: str) -> None:
    group = uuid.uuid4().hex
    first, key = node.send(line, "single", group=group)
    node.wait_record("step", "the first run to hold", fn="single", key=key)

    second, other = node.send(line, "single", group=group)

    run = node.run_of(first)
    assert run["status"] == "Completed", run
    skipped = wait_for(
        lambda: node.server.http.get(f"/v1/events/{second}").json()["data"]["inlet"]["skipped"],
        30.0,
        "the second event's skip",
    )
    assert [s["function_id"] for s in skipped] == [f"node-v{line}-single"], skipped
    assert node.server.runs(second) == []
    assert node.records.count("step", fn="single", key=other) == 0


def test_concurrency_one_per_key_never_overlaps(node: Node, line: str) -> None:
    group = uuid.uuid4().hex
    events = [node.send(line, "limited", group=group)[0] for _ in range(3)]

    for event_id in events:
        assert node.run_of(event_id)["status"] == "Completed"
    spans = sorted(
        (r for r in node.records.find("span", fn="limited") if r["key"] in _keys(node, events)),
        key=lambda r: r["start"],
    )
    assert len(spans) == 3, spans
    for before, after in itertools.pairwise(spans):
        assert after["start"] >= before["end"] - 0.01, spans


def test_a_cron_function_fires_on_the_minute(node: Node, line: str) -> None:
    # Last in the module: by now most of a minute has usually passed since the sync.
    tick = wait_for(
        lambda: node.records.find("tick", prefix=f"node-v{line}"),
        75.0,
        f"node-v{line}-ticker to fire",
        interval=0.5,
    )[0]
    assert tick["name"] == "inngest/scheduled.timer", tick
    assert node.records.count("tick", prefix=f"node-v{line}", event_id=tick["event_id"]) == 1


def _t(record: dict[str, Any]) -> float:
    value: float = record["t"]
    return value


def _keys(node: Node, event_ids: list[str]) -> set[str]:
    keys = set()
    for event_id in event_ids:
        event = node.server.http.get(f"/v1/events/{event_id}").json()["data"]
        keys.add(event["data"]["key"])
    return keys
