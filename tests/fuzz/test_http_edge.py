"""Fuzzing the HTTP edge: whatever arrives at /e, /fn/register, /v0/gql and /v1, the
answer is a well-formed 2xx or 4xx, never a 5xx or a hang, and events accepted before a bad
request are all still there afterwards.

The server is the real ASGI app (``create_app``) in this process, called through httpx's
ASGI transport with app exceptions turned into responses, so a crash shows up as a 500.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inlet.clock import FakeClock
from inlet.config import Settings
from inlet.server import create_app
from inlet.store.memory import MemoryStore

CASES = 150
"""Hypothesis examples per test (the note records the total)."""
DEADLINE = 10.0
"""Seconds one request may take before it counts as a hang."""

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
event_names = st.one_of(st.text(max_size=40), st.sampled_from(["app/x", "", "inngest/x", " "]))
events = st.fixed_dictionaries(
    {"name": event_names},
    optional={
        "data": json_values,
        "id": st.one_of(st.text(max_size=20), st.integers()),
        "ts": st.one_of(st.integers(), st.floats(allow_nan=False), st.text(max_size=5)),
        "user": json_values,
        "v": json_values,
    },
)
bodies = st.one_of(events, st.lists(events, max_size=5), json_values)
nasty_bytes = st.one_of(
    st.binary(max_size=200),
    st.sampled_from(
        [
            b"[" * 5000,
            b'{"a":' * 5000,
            b'[{"name": "app/x", "data": {"n": 1}}',  # truncated
            b"\xff\xfe\x00not utf-8",
            b'{"name": "app/x", "data": "\xed\xa0\x80"}',
        ]
    ),
)
headers = st.dictionaries(
    st.sampled_from(
        ["content-type", "x-inngest-event-id-seed", "authorization", "x-inngest-signature",
         "x-inngest-sdk", "x-inngest-server-kind", "content-encoding"]
    ),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40),
    max_size=3,
)  # fmt: skip


class Edge:
    """The app on one event loop, with every event id it has accepted."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        app = create_app(Settings(database_url="memory://"), store=MemoryStore(), clock=FakeClock())
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        self.client = httpx.AsyncClient(transport=transport, base_url="http://inlet.test")
        self.accepted: list[str] = []

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        call = self.client.request(method, path, **kwargs)
        reply = self.loop.run_until_complete(asyncio.wait_for(call, DEADLINE))
        assert reply.status_code < 500, f"{method} {path} -> {reply.status_code}: {reply.text}"
        assert reply.status_code >= 200
        if reply.content:
            json.loads(reply.content)  # well-formed: every answer of the edge is JSON
        return reply

    def close(self) -> None:
        self.loop.run_until_complete(self.client.aclose())
        self.loop.close()


@pytest.fixture(scope="module")
def edge() -> Iterator[Edge]:
    served = Edge()
    yield served
    # Nothing accepted is lost to the bad requests that came after it (and the generators
    # do make acceptable events, or this would prove nothing).
    assert len(served.accepted) > 10
    for event_id in served.accepted:
        assert served.request("GET", f"/v1/events/{event_id}").status_code == 200
    served.close()


fuzz = settings(
    max_examples=CASES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@fuzz
@given(body=bodies, extra=headers)
def test_the_event_api_answers_any_json_with_2xx_or_4xx(
    edge: Edge, body: Any, extra: dict[str, str]
) -> None:
    extra.pop("content-encoding", None)
    reply = edge.request("POST", "/e/key", content=json.dumps(body), headers=extra)
    if reply.status_code == 200:
        edge.accepted.extend(reply.json()["ids"])


@fuzz
@given(raw=nasty_bytes, extra=headers)
def test_the_event_api_answers_any_bytes_with_2xx_or_4xx(
    edge: Edge, raw: bytes, extra: dict[str, str]
) -> None:
    reply = edge.request("POST", "/e/key", content=raw, headers=extra)
    if reply.status_code == 200:
        edge.accepted.extend(reply.json()["ids"])


register_bodies = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {
            "url": st.one_of(st.just("http://app.test/api/inngest"), st.text(max_size=30)),
            "appName": st.one_of(st.just("app"), json_values),
            "functions": st.lists(
                st.fixed_dictionaries(
                    {"id": st.text(max_size=10)},
                    optional={
                        "name": json_values,
                        "triggers": json_values,
                        "steps": json_values,
                        "concurrency": json_values,
                        "batchEvents": json_values,
                        "debounce": json_values,
                        "cancel": json_values,
                        "timeouts": json_values,
                        "singleton": json_values,
                    },
                ),
                max_size=3,
            ),
        }
    ),
)


@fuzz
@given(body=register_bodies)
def test_registration_answers_any_body_with_2xx_or_4xx(edge: Edge, body: Any) -> None:
    edge.request("POST", "/fn/register", content=json.dumps(body))


@fuzz
@given(raw=nasty_bytes)
def test_registration_answers_any_bytes_with_2xx_or_4xx(edge: Edge, raw: bytes) -> None:
    edge.request("POST", "/fn/register", content=raw)


graphql_queries = st.one_of(
    st.text(max_size=80),
    st.sampled_from(
        [
            "{ apps { id } }",
            "{ functions { id name } }",
            "{ events(query: {}) { edges { node { id } } } }",
            "{ run(runID: 123) { id } }",
            "{" * 3000 + "}" * 3000,
            "query { " + "a { " * 400 + "b" + " }" * 400 + " }",
            "mutation { nothing }",
        ]
    ),
)


@fuzz
@given(query=graphql_queries, variables=json_values)
def test_graphql_answers_any_query_with_2xx_or_4xx(edge: Edge, query: str, variables: Any) -> None:
    edge.request("POST", "/v0/gql", content=json.dumps({"query": query, "variables": variables}))


@fuzz
@given(raw=nasty_bytes)
def test_graphql_answers_any_bytes_with_2xx_or_4xx(edge: Edge, raw: bytes) -> None:
    edge.request("POST", "/v0/gql", content=raw)


segments = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters="/?#%"),
    max_size=30,
)
params = st.dictionaries(
    st.sampled_from(["function", "status", "since", "until", "q", "limit", "cursor", "bucket"]),
    st.text(max_size=20),
    max_size=4,
)


@fuzz
@given(
    path=st.sampled_from(
        ["/v1/runs", "/v1/runs/counts", "/v1/runs/{}", "/v1/runs/{}/history", "/v1/events",
         "/v1/events/{}", "/v1/events/{}/runs", "/v1/functions/{}/stats", "/dev"]
    ),
    segment=segments,
    query=params,
)  # fmt: skip
def test_the_rest_api_answers_any_path_and_parameters_with_2xx_or_4xx(
    edge: Edge, path: str, segment: str, query: dict[str, str]
) -> None:
    edge.request("GET", path.format(segment), params=query)


@fuzz
@given(segment=segments, body=json_values)
def test_the_rest_api_answers_any_write_with_2xx_or_4xx(
    edge: Edge, segment: str, body: Any
) -> None:
    edge.request("DELETE", f"/v1/runs/{segment}")
    edge.request("POST", "/v1/cancellations", content=json.dumps(body))


@pytest.mark.parametrize("path", ["/e/key", "/fn/register", "/v0/gql", "/v1/cancellations"])
def test_an_oversized_body_is_refused_before_parsing_with_the_limit_named(
    edge: Edge, path: str
) -> None:
    limit = Settings().max_request_bytes
    reply = edge.request("POST", path, content=b"[" + b" " * limit + b"]")
    assert reply.status_code == 413
    assert f"at most {limit} bytes" in reply.json()["error"]
