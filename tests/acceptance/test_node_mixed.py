"""Several runtimes and two languages on one server, as the seed systems deploy them.

One ``inlet dev`` on SQLite syncs five endpoints:

- ``seeds-edge``: the fetch-style handler (``inngest/edge``, SDK v4) under Deno, serving the
  cron and the bridge functions, as a Deno function on an edge platform does;
- ``seeds-embed``: the ``node:http`` adapter (SDK v3) under Node, serving the embeddings work;
- ``seeds-hono``: a Hono app (``inngest/hono``, SDK v4) on Node, standing in for the seeds'
  framework service, whose function starts the pipeline;
- ``poly-ts`` (the same fetch-style handler, SDK v4, under Node behind a ``node:http``
  bridge) and ``poly-py`` (the Python SDK): each invokes a function of the other, and a
  Python step sends an event a TypeScript function consumes.

Every record names the runtime that wrote it, so each event is seen reaching the endpoint
that registered the function it triggers.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from ports import free_port

from .conftest import STACK_KEY
from .harness import InletServer, Records, wait_for
from .node_app import NodeStack, dev_env, require_node

pytestmark = [pytest.mark.acceptance, pytest.mark.timeout(120)]

EDGE = ["seeds-edge-nightly", "seeds-edge-bridge", "seeds-edge-bridge-back"]
EMBED = ["seeds-embed-embed"]
HONO = ["seeds-hono-generate"]
POLY = ["poly-ts-square", "poly-ts-caller", "poly-ts-from-python"]
PY = ["poly-py-double", "poly-py-caller", "poly-py-emitter"]


class Mixed:
    def __init__(self, stack: NodeStack, server: InletServer, urls: dict[str, str]) -> None:
        self.stack = stack
        self.server = server
        self.urls = urls
        self.records: Records = stack.records

    def run_of(self, event_id: str) -> dict[str, Any]:
        (run,) = self.server.runs_for_event(event_id)
        return run

    def wait_record(self, kind: str, what: str, **match: Any) -> list[dict[str, Any]]:
        return wait_for(lambda: self.records.find(kind, **match), 60.0, what, interval=0.2)


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mixed]:
    require_node(deno=True)
    stack = NodeStack(tmp_path_factory.mktemp("mixed"))
    try:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        edge = stack.node_app("4", "seeds-edge", dev_env(url), "seeds-edge", runtime="deno")
        embed = stack.node_app("3", "seeds-embed", dev_env(url), "seeds-node")
        hono = stack.node_app("4", "seeds-hono", dev_env(url), "seeds-hono", runtime="hono")
        poly_ts = stack.node_app("4", "poly-ts", dev_env(url), "polyglot", runtime="node-fetch")
        poly_py = stack.python_app("polyglot_app:app", url)
        apps = {"seeds-edge": edge.url, "seeds-embed": embed.url, "seeds-hono": hono.url}
        apps["poly-ts"] = poly_ts.url
        apps["poly-py"] = poly_py.url
        server = stack.server(list(apps.values()), port=port)
        server.wait_functions(EDGE + EMBED + HONO + POLY + PY)
        yield Mixed(stack, server, apps)
    finally:
        stack.close()


@pytest.fixture(autouse=True)
def _logs_on_failure(request: pytest.FixtureRequest, mixed: Mixed) -> None:
    request.node.stash[STACK_KEY] = mixed.stack


def test_each_function_is_registered_at_the_endpoint_that_serves_it(mixed: Mixed) -> None:
    functions = {f["slug"]: f for f in mixed.server.dev_info()["functions"]}

    for app_id, slugs in (
        ("seeds-edge", EDGE),
        ("seeds-embed", EMBED),
        ("seeds-hono", HONO),
        ("poly-ts", POLY),
        ("poly-py", PY),
    ):
        for slug in slugs:
            assert functions[slug]["appURL"] == mixed.urls[app_id], functions[slug]


def test_an_event_crosses_from_the_edge_to_node_and_back(mixed: Mixed) -> None:
    key = uuid.uuid4().hex
    event_id = mixed.server.send_one("seeds/doc.created", {"key": key, "text": "one two three"})

    bridge = mixed.run_of(event_id)
    assert bridge["function_id"] == "seeds-edge-bridge", bridge
    assert bridge["status"] == "Completed", bridge
    assert bridge["output"] == {"runtime": "deno", "doc": {"key": key, "words": 3}}
    (back,) = mixed.wait_record("step", "the bridge back on the edge", fn="bridge-back", key=key)

    assert back["runtime"] == "deno" and back["data"] == {"key": key, "vector": [3, 6]}, back
    (prepare,) = mixed.records.find("step", fn="bridge", key=key)
    (embed,) = mixed.records.find("step", fn="embed", key=key)
    assert (prepare["runtime"], embed["runtime"]) == ("deno", "node")
    assert (prepare["app"], embed["app"]) == ("seeds-edge", "seeds-embed")


def test_a_typescript_function_invokes_a_python_one(mixed: Mixed) -> None:
    key = uuid.uuid4().hex
    event_id = mixed.server.send_one("poly/ts.call", {"key": key, "n": 5})

    run = mixed.run_of(event_id)

    assert run["status"] == "Completed", mixed.server.history(run["run_id"])
    assert run["output"] == {"from_python": {"doubled": 10, "key": key}}
    (step,) = mixed.records.find("step", fn="double", key=key)
    assert step["runtime"] == "python"


def test_a_python_function_invokes_a_typescript_one(mixed: Mixed) -> None:
    key = uuid.uuid4().hex
    event_id = mixed.server.send_one("poly/py.call", {"key": key, "n": 6})

    run = mixed.run_of(event_id)

    assert run["status"] == "Completed", mixed.server.history(run["run_id"])
    assert run["output"] == {"from_typescript": {"square": 36, "key": key}}
    (step,) = mixed.records.find("step", fn="square", key=key)
    assert step["runtime"] == "node"


def test_an_event_sent_from_a_python_step_runs_a_typescript_function(mixed: Mixed) -> None:
    key = uuid.uuid4().hex
    event_id = mixed.server.send_one("poly/py.emit", {"key": key})

    run = mixed.run_of(event_id)

    assert run["status"] == "Completed", run
    (sent_id,) = run["output"]["ids"]
    (received,) = mixed.wait_record("received", "the TypeScript consumer", key=key)
    assert received["runtime"] == "node" and received["app"] == "poly-ts", received
    assert received["data"] == {"key": key, "lang": "python"}
    (consumer,) = mixed.server.runs_for_event(sent_id)
    assert consumer["function_id"] == "poly-ts-from-python", consumer


def test_the_framework_app_starts_the_pipeline_across_three_endpoints(mixed: Mixed) -> None:
    key = uuid.uuid4().hex
    event_id = mixed.server.send_one("seeds/generate.requested", {"key": key})

    generate = mixed.run_of(event_id)
    assert generate["function_id"] == "seeds-hono-generate", generate
    assert generate["status"] == "Completed", generate
    (back,) = mixed.wait_record("step", "the pipeline to come back", fn="bridge-back", key=key)

    assert back["data"] == {"key": key, "vector": [3, 6]}, back
    apps = [
        mixed.records.find("step", fn=f, key=key)[0]["app"] for f in ("generate", "bridge", "embed")
    ]
    assert apps == ["seeds-hono", "seeds-edge", "seeds-embed"], apps


def test_the_cron_on_the_edge_endpoint_runs_there(mixed: Mixed) -> None:
    # Last in the module, so the wait for the minute overlaps the other cases.
    ticks = wait_for(
        lambda: mixed.records.find("tick", fn="nightly"),
        75.0,
        "seeds-edge-nightly to fire",
        interval=0.5,
    )
    assert {t["runtime"] for t in ticks} == {"deno"}, ticks
    assert ticks[0]["name"] == "inngest/scheduled.timer", ticks
