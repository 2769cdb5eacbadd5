"""``POST /v0/gql`` answers the queries the official SDKs' test suites send to Inngest's
dev server (inngest-py ``test_core/helper.py``, inngest-js ``test/helpers.ts`` and
``test-harness/src/utils.ts``), read from the same run history as the REST API."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from .harness import CoreStack, InletServer, Stack, start_app_stack, wait_for

pytestmark = pytest.mark.acceptance

FUNCTIONS = ["accept-gql-steps", "accept-gql-waits"]

RUN_QUERY = """
query GetRun($run_id: String!) {
    run(runID: $run_id) {
        output
        status
    }
    runTrigger(runID: $run_id) {
        payloads
    }
}
"""

RUNS_OF_EVENT = """
query GetRunFromEventID($event_id: ID!) {
    event(query: {eventId: $event_id}) {
        functionRuns {
            id
        }
    }
}
"""

TRACE_QUERY = """
fragment TraceFields on RunTraceSpan {
  name
  status
  outputID
  stepType
  attempts
  stepID
  spanID
  metadata { scope kind values updatedAt }
}

query GetRunTimeline($runId: String!, $preview: Boolean) {
  run(runID: $runId) {
    status
    trace(preview: $preview) {
      ...TraceFields
      childrenSpans {
        ...TraceFields
        childrenSpans { ...TraceFields }
      }
    }
  }
}
"""

OUTPUT_QUERY = """
query GetRunTimelineOutput($outputId: String!) {
  runTraceSpanOutputByID(outputID: $outputId) {
    data
    error { name message stack cause }
  }
}
"""


def gql(
    server: InletServer,
    query: str,
    variables: dict[str, Any] | None = None,
    operation: str | None = None,
    expect_errors: bool = False,
) -> dict[str, Any]:
    body: dict[str, Any] = {"query": query, "variables": variables}
    if operation is not None:
        body["operationName"] = operation
    resp = server.http.post("/v0/gql", json=body)
    assert resp.status_code == 200, resp.text
    doc: dict[str, Any] = resp.json()
    if expect_errors:
        assert doc.get("errors"), doc
    else:
        assert not doc.get("errors"), doc
    return doc


def run_of(server: InletServer, event_id: str) -> str:
    def found() -> str | None:
        event = gql(server, RUNS_OF_EVENT, {"event_id": event_id})["data"]["event"]
        runs = event["functionRuns"] or []
        return str(runs[0]["id"]) if len(runs) == 1 else None

    return wait_for(found, 30, f"a run of event {event_id} in event.functionRuns")


def wait_status(server: InletServer, run_id: str, status: str) -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        data = gql(server, RUN_QUERY, {"run_id": run_id})["data"]
        return data if data["run"]["status"] == status else None

    return wait_for(reached, 60, f"run {run_id} to be {status}", interval=0.2)


def trace(server: InletServer, run_id: str) -> dict[str, Any]:
    data = gql(server, TRACE_QUERY, {"runId": run_id, "preview": True}, "GetRunTimeline")
    span: dict[str, Any] = data["data"]["run"]["trace"]
    return span


def output(server: InletServer, output_id: str) -> dict[str, Any]:
    data = gql(server, OUTPUT_QUERY, {"outputId": output_id}, "GetRunTimelineOutput")
    out: dict[str, Any] = data["data"]["runTraceSpanOutputByID"]
    return out


def children(span: dict[str, Any]) -> list[tuple[str, str, str, int]]:
    return [(c["name"], c["status"], c["stepType"], c["attempts"]) for c in span["childrenSpans"]]


@pytest.fixture
def gql_stack(stack: Stack) -> CoreStack:
    return start_app_stack(stack, "apps.gql_app:app", FUNCTIONS)


@pytest.mark.timeout(120)
def test_a_completed_run_reads_back_status_output_trigger_trace_and_step_outputs(
    gql_stack: CoreStack,
) -> None:
    server = gql_stack.server
    key = uuid.uuid4().hex
    event_id = server.send_one("gql/steps", {"key": key})

    run_id = run_of(server, event_id)
    data = wait_status(server, run_id, "COMPLETED")

    expected = {"a": 1, "b": {"two": 2, "none": None}, "dups": [10, 20], "key": key}
    assert json.loads(data["run"]["output"]) == expected
    assert json.loads(data["run"]["output"]) == server.run(run_id)["output"]
    (payload,) = data["runTrigger"]["payloads"]
    trigger = json.loads(payload)
    assert trigger["name"] == "gql/steps"
    assert trigger["data"] == {"key": key}

    root = trace(server, run_id)
    assert root["name"] == "steps"
    assert root["status"] == "COMPLETED"
    assert root["stepID"] is None
    assert root["metadata"] == []
    assert children(root) == [
        ("one", "COMPLETED", "RUN", 0),
        ("two", "COMPLETED", "RUN", 0),
        ("dup", "COMPLETED", "RUN", 0),
        ("dup", "COMPLETED", "RUN", 0),
        ("Finalization", "COMPLETED", "FINALIZATION", 0),
    ]
    steps = root["childrenSpans"]
    assert all(s["childrenSpans"] == [] for s in steps)
    assert all(isinstance(s["spanID"], str) and s["spanID"] for s in steps)
    assert len({s["spanID"] for s in [root, *steps]}) == 6
    assert len({s["stepID"] for s in steps[:4]}) == 4
    datas = [json.loads(output(server, s["outputID"])["data"]) for s in steps[:4]]
    assert datas == [1, {"two": 2, "none": None}, 10, 20]
    assert output(server, steps[0]["outputID"])["error"] is None
    assert json.loads(output(server, root["outputID"])["data"]) == expected
    assert json.loads(output(server, steps[4]["outputID"])["data"]) == expected

    by_query = gql(
        server,
        "query Q($id: String!) { runTrace(runID: $id) { name childrenSpans { name } } }",
        {"id": run_id},
    )["data"]["runTrace"]
    names = [c["name"] for c in by_query["childrenSpans"]]
    assert names == ["one", "two", "dup", "dup", "Finalization"]

    event = gql(
        server,
        "query Event($id: ULID!) { eventV2(id: $id) { idempotencyKey name raw } }",
        {"id": event_id},
        "Event",
    )["data"]["eventV2"]
    assert event["name"] == "gql/steps"
    assert isinstance(event["idempotencyKey"], str) and event["idempotencyKey"]
    raw = json.loads(event["raw"])
    assert raw["data"] == {"key": key}
    assert raw["name"] == "gql/steps"

    events = gql(
        server,
        "query Events($query: EventsQuery!) { events(query: $query) { id name payload } }",
        {"query": {}},
        "Events",
    )["data"]["events"]
    (mine,) = [e for e in events if e["id"] == event_id]
    assert mine["name"] == "gql/steps"
    assert json.loads(mine["payload"]) == {"key": key}

    stream = gql(
        server,
        """query GetEventStream {
          stream(query: {limit: 999, includeInternalEvents: false}) {
            id trigger runs { id function { name } }
          }
        }""",
        {},
        "GetEventStream",
    )["data"]["stream"]
    (item,) = [i for i in stream if i["id"] == event_id]
    assert item == {
        "id": event_id,
        "trigger": "gql/steps",
        "runs": [{"id": run_id, "function": {"name": "steps"}}],
    }
    assert not [i for i in stream if i["trigger"].startswith("inngest/")]
    with_internal = gql(
        server,
        "{ stream(query: {limit: 999, includeInternalEvents: true}) { trigger } }",
    )["data"]["stream"]
    assert "inngest/function.finished" in {i["trigger"] for i in with_internal}


@pytest.mark.timeout(120)
def test_retried_and_failed_steps_show_attempts_errors_and_the_sdk_error_body(
    gql_stack: CoreStack,
) -> None:
    server = gql_stack.server
    key = uuid.uuid4().hex
    ok_run = run_of(server, server.send_one("gql/retry-ok", {"key": key}))
    failed_run = run_of(server, server.send_one("gql/fails", {"key": key}))

    ok = wait_status(server, ok_run, "COMPLETED")
    assert json.loads(ok["run"]["output"]) == "ok after 2"
    ok_root = trace(server, ok_run)
    assert children(ok_root) == [
        ("flaky", "COMPLETED", "RUN", 1),
        ("Finalization", "COMPLETED", "FINALIZATION", 0),
    ]
    flaky = output(server, ok_root["childrenSpans"][0]["outputID"])
    assert flaky == {"data": json.dumps("ok after 2"), "error": None}

    failed = wait_status(server, failed_run, "FAILED")
    body = json.loads(failed["run"]["output"])
    assert body == server.run(failed_run)["output"]
    assert body["name"] == "GqlError"
    assert body["message"] == f"broken {key}"
    assert isinstance(body["stack"], str) and "GqlError" in body["stack"]
    root = trace(server, failed_run)
    assert root["status"] == "FAILED"
    assert children(root) == [
        ("ok", "COMPLETED", "RUN", 0),
        ("broken", "FAILED", "RUN", 1),
        ("Finalization", "FAILED", "FINALIZATION", 0),
    ]
    broken = output(server, root["childrenSpans"][1]["outputID"])
    assert broken["data"] is None
    assert broken["error"]["name"] == "GqlError"
    assert broken["error"]["message"] == f"broken {key}"
    assert "GqlError" in broken["error"]["stack"]
    assert "cause" in broken["error"]
    run_error = output(server, root["outputID"])
    assert run_error["data"] is None
    assert run_error["error"]["name"] == "GqlError"
    assert run_error["error"]["message"] == f"broken {key}"
    assert run_error["error"]["stack"] == body["stack"]


@pytest.mark.timeout(120)
def test_parallel_sleep_wait_and_invoke_steps_appear_with_their_kinds_and_outputs(
    gql_stack: CoreStack,
) -> None:
    server = gql_stack.server
    key = uuid.uuid4().hex
    parallel_run = run_of(server, server.send_one("gql/parallel", {"key": key}))
    waits_run = run_of(server, server.send_one("gql/waits", {"key": key}))

    wait_status(server, parallel_run, "COMPLETED")
    names = [c["name"] for c in trace(server, parallel_run)["childrenSpans"]]
    assert sorted(names[:2]) == ["a", "b"]
    assert names[2:] == ["c", "Finalization"]

    def waiting() -> dict[str, Any] | None:
        root = trace(server, waits_run)
        spans = {c["name"]: c for c in root["childrenSpans"]}
        wait = spans.get("wait-go")
        return root if wait is not None and wait["status"] == "WAITING" else None

    pending = wait_for(waiting, 30, "the wait-go step to be WAITING", interval=0.2)
    assert pending["status"] == "RUNNING"
    assert pending["outputID"] is None
    assert children(pending)[0] == ("nap", "COMPLETED", "SLEEP", 0)
    run_now = gql(server, RUN_QUERY, {"run_id": waits_run})["data"]["run"]
    assert run_now == {"status": "RUNNING", "output": None}

    server.send_one("gql/go", {"key": key, "x": 1})
    done = wait_status(server, waits_run, "COMPLETED")
    assert json.loads(done["run"]["output"]) == {
        "go": {"key": key, "x": 1},
        "invoked": {"child": 7},
    }
    root = trace(server, waits_run)
    assert children(root) == [
        ("nap", "COMPLETED", "SLEEP", 0),
        ("wait-go", "COMPLETED", "WAIT_FOR_EVENT", 0),
        ("call-child", "COMPLETED", "INVOKE", 0),
        ("Finalization", "COMPLETED", "FINALIZATION", 0),
    ]
    nap, wait, invoke = (output(server, c["outputID"]) for c in root["childrenSpans"][:3])
    assert nap == {"data": "null", "error": None}
    assert json.loads(wait["data"])["name"] == "gql/go"
    assert json.loads(wait["data"])["data"] == {"key": key, "x": 1}
    assert json.loads(invoke["data"]) == {"child": 7}


@pytest.mark.timeout(60)
def test_unknown_ids_and_malformed_requests_answer_with_graphql_errors_never_a_500(
    stack: Stack,
) -> None:
    server = stack.server([])
    unknown = "01ARZ3NDEKTSV4RRFFQ69G5FAV"

    assert gql(server, "query Q($id: String!) { run(runID: $id) { status } }", {"id": unknown}) == {
        "data": {"run": None}
    }
    for query, variables in [
        (RUN_QUERY, {"run_id": unknown}),
        (OUTPUT_QUERY, {"outputId": "not-an-output-id"}),
        (OUTPUT_QUERY, {"outputId": f"{unknown}:"}),
        ("query E($id: ULID!) { eventV2(id: $id) { name } }", {"id": unknown}),
        (RUNS_OF_EVENT, {"event_id": unknown}),
        ("{ run(runID: ", None),
        ('{ run(runID: "x") { nope } }', None),
        ("query Q($id: String!) { run(runID: $id) { status } }", None),
    ]:
        doc = gql(server, query, variables, expect_errors=True)
        assert all(isinstance(e["message"], str) and e["message"] for e in doc["errors"]), doc

    two_ops = "query A { events(query: {}) { id } } query B { stream(query: {}) { id } }"
    assert gql(server, two_ops, operation="B") == {"data": {"stream": []}}
    gql(server, two_ops, expect_errors=True)

    for content in (b"{not json", b"[]", b'{"variables": {}}', b'{"query": 1}'):
        resp = server.http.post(
            "/v0/gql", content=content, headers={"Content-Type": "application/json"}
        )
        assert resp.status_code == 400, resp.text
        assert resp.json()["errors"][0]["message"], resp.text

    resp = server.http.get("/v0/gql", params={"query": "{ events(query: {}) { id } }"})
    assert resp.status_code == 200 and resp.json() == {"data": {"events": []}}
