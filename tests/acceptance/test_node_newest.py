"""The newest SDK features with the real ``inngest@4`` (4.24) against the real server
(``tests/node/apps/newest.js``), with v4's checkpointing off and on: ``defer()`` starts its
deferred function once its parent ends and an aborted defer never; ``step.fetch`` and
``step.ai.infer`` are made by the server against a small HTTP server this test starts on
127.0.0.1; ``inngest.metadata.set()`` inside ``step.run`` reaches the run's metadata through
the step's opcode (or its checkpoint); and the sessions of a triggering event's ``meta``
reach, through the SDK's stamping and the server's keeping, the invoked child's event, the
deferred run's event and an event sent from a step.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from ports import free_port

from .conftest import STACK_KEY
from .harness import InletServer, Records, wait_for
from .node_app import APPS_DIR, NodeApp, NodeStack, dev_env, require_node

pytestmark = [pytest.mark.acceptance, pytest.mark.timeout(120)]

APP = "newest"
SCHEDULE = "inngest/deferred.schedule"
FUNCTIONS = ["scorer", "deferrer", "child", "with-sessions", "fetcher", "inferrer", "described"]


class NewestApp(NodeApp):
    """``newest.js``: inngest@4 only, on the node:http adapter."""

    def argv(self) -> list[str]:
        return ["node", str(APPS_DIR / "newest.js")]


class Site(BaseHTTPRequestHandler):
    """What ``step.fetch`` calls: echoes the method, a header and the body it got."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0)).decode()
        text = f"{self.command} {self.headers.get('x-from')} {body}".encode()
        status = 200 if self.path == "/hello" else 404
        if self.path == "/v1/chat/completions":
            # An OpenAI-compatible model: says what it was asked, with which key.
            asked = json.loads(body)
            answer = {
                "model": asked.get("model"),
                "auth": self.headers.get("authorization"),
                "choices": [{"message": {"role": "assistant", "content": "hello"}}],
            }
            text, status = json.dumps(answer).encode(), 200
        self.send_response(status)
        self.send_header("x-site", "local")
        self.send_header("content-length", str(len(text)))
        self.end_headers()
        self.wfile.write(text)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Newest:
    def __init__(self, stack: NodeStack, server: InletServer, site: str) -> None:
        self.stack = stack
        self.server = server
        self.site = site
        self.records: Records = stack.records

    def start(self, name: str, **data: Any) -> tuple[dict[str, Any], str]:
        """Send ``newest/{name}`` with a fresh key and wait for its run to end."""
        key = uuid.uuid4().hex
        event_id = self.server.send_one(f"newest/{name}", {"key": key, **data})
        (run,) = self.server.runs_for_event(event_id, timeout=60.0)
        return run, key

    def wait_records(self, kind: str, count: int, **match: Any) -> list[dict[str, Any]]:
        return wait_for(
            lambda: found if len(found := self.records.find(kind, **match)) >= count else None,
            30.0,
            f"{count} {kind} record(s) matching {match}",
            interval=0.2,
        )


@pytest.fixture(scope="module", params=[False, True], ids=["steps", "checkpointing"])
def newest(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Newest]:
    """The app with v4's checkpointing off (each step in a 206 reply) and on (steps sent to
    /v1/checkpoint as they finish, the final reply holding what is left)."""
    require_node()
    checkpointing: bool = request.param
    stack = NodeStack(tmp_path_factory.mktemp("newest"))
    site = ThreadingHTTPServer(("127.0.0.1", free_port()), Site)
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()
    try:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        app = NewestApp(
            log_dir=stack.log_dir,
            record_file=stack.records.path,
            line="4",
            app_id=APP,
            env={**dev_env(url), "NEWEST_CHECKPOINTING": "1" if checkpointing else "0"},
        )
        stack.node_apps.append(app)
        app.start()
        server = stack.server([app.url], port=port)
        server.wait_functions(f"{APP}-{fn}" for fn in FUNCTIONS)
        yield Newest(stack, server, f"http://127.0.0.1:{site.server_address[1]}")
    finally:
        site.shutdown()
        site.server_close()
        thread.join(timeout=10)
        stack.close()


@pytest.fixture(autouse=True)
def _logs_on_failure(request: pytest.FixtureRequest, newest: Newest) -> None:
    request.node.stash[STACK_KEY] = newest.stack


def test_a_defer_starts_once_after_its_parent_and_an_aborted_one_never(newest: Newest) -> None:
    run, key = newest.start("defer")
    assert run["status"] == "Completed", run
    (deferred,) = newest.wait_records("deferred", 1, key=key)
    assert deferred["n"] == 1
    assert deferred["parent_run_id"] == run["run_id"]
    assert deferred["parent_fn"] == f"{APP}-deferrer"
    # The aborted one would have been scheduled with its parent's ending: nothing more comes.
    schedules = newest.server.http.get("/v1/events", params={"name": SCHEDULE}).json()["data"]
    mine = [e for e in schedules if e["data"].get("key") == key]
    assert len(mine) == 1, mine
    scorer_runs = newest.server.runs(mine[0]["id"])
    assert [r["status"] for r in scorer_runs] == ["Completed"], scorer_runs
    assert newest.records.count("step", key=key, step="a") == 1
    assert newest.records.count("deferred", key=key) == 1


def test_step_fetch_is_made_by_the_server_and_the_function_reads_the_response(
    newest: Newest,
) -> None:
    run, _ = newest.start("fetch", url=f"{newest.site}/hello")
    assert run["status"] == "Completed", run
    assert newest.server.run(run["run_id"])["output"] == {
        "status": 200,
        "text": "POST step.fetch ping",
        "site": "local",
    }
    run, _ = newest.start("fetch", url=f"{newest.site}/missing")
    assert newest.server.run(run["run_id"])["output"]["status"] == 404
    run, _ = newest.start("fetch", url=f"http://127.0.0.1:{free_port()}/refused")
    output = newest.server.run(run["run_id"])["output"]
    assert "the request failed" in output["message"], output


def test_step_ai_infer_is_posted_by_the_server_with_the_key_and_its_answer_returned(
    newest: Newest,
) -> None:
    run, _ = newest.start("infer", base_url=f"{newest.site}/v1/")
    assert run["status"] == "Completed", run
    output = newest.server.run(run["run_id"])["output"]
    assert output["model"] == "local-model", output
    assert output["auth"] == "Bearer sk-local"
    assert output["choices"][0]["message"]["content"] == "hello"


def test_metadata_set_inside_a_step_is_kept_with_the_run(newest: Newest) -> None:
    run, key = newest.start("metadata")
    assert run["status"] == "Completed", run
    metadata = newest.server.run(run["run_id"])["inlet"]["metadata"]
    (progress,) = [m for m in metadata if m["kind"] == "userland.progress"]
    assert progress["values"] == {"progress": 50, "key": key}
    assert progress["step_id"]  # against the step it was set in, not the run


def test_event_sessions_reach_the_invoked_child_the_deferred_run_and_a_sent_event(
    newest: Newest,
) -> None:
    key = uuid.uuid4().hex
    (event_id,) = newest.server.send(
        {"name": "newest/sessions", "data": {"key": key}, "meta": {"sessions": {"chat": "c-7"}}}
    )
    (run,) = newest.server.runs_for_event(event_id, timeout=60.0)
    assert run["status"] == "Completed", run
    (child,) = newest.wait_records("child", 1, key=key)
    (deferred,) = newest.wait_records("deferred", 1, key=key)
    assert child["meta"] == {"sessions": {"chat": "c-7"}}, child
    assert deferred["meta"] == {"sessions": {"chat": "c-7"}}, deferred
    sent = newest.server.http.get("/v1/events", params={"name": "newest/sent"}).json()["data"]
    (mine,) = [e for e in sent if e["data"].get("key") == key]
    assert mine["meta"] == {"sessions": {"chat": "c-7"}}, mine
