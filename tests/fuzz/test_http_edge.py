"""Fuzzing the HTTP edge of a running server: whatever arrives at /e, /fn/register, /v0/gql
and /v1, the answer is a well-formed 2xx or 4xx, never a 5xx or a hang, and events accepted
before a bad request are all still there afterwards.

Each property runs against two real ``inlet`` processes on 127.0.0.1, reached with httpx
over loopback: ``inlet dev`` and ``inlet start`` with an event key, a signing key and an
admin token from ``inlet tokens create``, so the key and token checks see the same bad
input (right, wrong and missing credentials are drawn like any other field). A request
that takes longer than ``DEADLINE`` is a hang and fails the test.

8 properties x 150 examples x 2 servers = 2,400 generated cases per run (derandomized, no
example database, so every run tries the same ones), plus 4 oversized bodies per server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inlet.config import Settings
from ports import free_port

CASES = 150
"""Hypothesis examples per test and server (the module docstring records the total)."""
DEADLINE = 10.0
"""Seconds one request may take before it counts as a hang."""
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
SRC = str(Path(__file__).resolve().parents[2] / "src")

EVENT_KEY = "fuzz-event-key-0123456789"
SIGNING_KEY = "signkey-test-" + "5e" * 32
CREDENTIALS = ("token", "signing-key", "wrong", "none")
"""What a request presents in ``Authorization``; each server turns it into a header."""


@dataclass
class Server:
    """One running ``inlet`` process and every event id it has accepted."""

    mode: str
    port: int
    proc: subprocess.Popen[bytes]
    log_path: Path
    token: str = ""
    accepted: list[str] = field(default_factory=list)
    client: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=DEADLINE)

    def authorization(self, credential: str) -> dict[str, str]:
        bearer = {
            "token": self.token,
            "signing-key": SIGNING_KEY,
            "wrong": "inlet_" + "x" * 43,
        }.get(credential)
        return {"Authorization": f"Bearer {bearer}"} if bearer else {}

    def request(
        self, method: str, path: str, credential: str = "token", **kwargs: Any
    ) -> httpx.Response:
        headers = {**self.authorization(credential), **kwargs.pop("headers", {})}
        try:
            reply = self.client.request(method, path, headers=headers, **kwargs)
        except httpx.TimeoutException as exc:
            raise AssertionError(f"{method} {path}: no answer within {DEADLINE}s") from exc
        assert reply.status_code < 500, f"{method} {path} -> {reply.status_code}: {reply.text}"
        assert reply.status_code >= 200
        if reply.content:
            json.loads(reply.content)  # well-formed: every answer of the edge is JSON
        return reply

    def send(self, key: str, credential: str, **kwargs: Any) -> httpx.Response:
        reply = self.request("POST", f"/e/{key}", credential, **kwargs)
        # A batch's events before its first bad one are stored, and their ids returned
        # with the 4xx that names the bad one.
        answer = reply.json() if reply.content else None
        if isinstance(answer, dict):
            self.accepted.extend(answer.get("ids", []))
        return reply

    def stop(self) -> None:
        self.client.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(STOP_TIMEOUT)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INLET_", "INNGEST_"))}
    env["PYTHONPATH"] = SRC
    return env


def _inlet(*args: str) -> list[str]:
    return [sys.executable, "-m", "inlet", *args]


def _create_token(database_url: str) -> str:
    done = subprocess.run(
        _inlet("tokens", "create", "--role", "admin", "--database-url", database_url),
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _start(mode: str, base: Path) -> Server:
    port = free_port()
    database_url = f"sqlite:///{base / 'inlet.db'}"
    argv = _inlet(mode, "--host", "127.0.0.1", "--port", str(port), "--no-discovery",
                  "--database-url", database_url)  # fmt: skip
    token = ""
    if mode == "start":
        # On SQLite tokens are made while no server holds the file.
        token = _create_token(database_url)
        (base / "signing-key").write_text(SIGNING_KEY + "\n")
        (base / "event-keys").write_text(EVENT_KEY + "\n")
        argv += ["--signing-key-file", str(base / "signing-key"),
                 "--event-key-file", str(base / "event-keys")]  # fmt: skip
    log_path = base / "inlet.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(argv, env=_env(), stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT)  # fmt: skip
    server = Server(mode, port, proc, log_path, token)
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            if server.client.get("/health", timeout=1.0).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            server.stop()
            raise AssertionError(f"inlet {mode} did not start; log:\n{server.log()}")
        time.sleep(0.1)


@pytest.fixture(scope="module", params=["dev", "start"])
def edge(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """``inlet dev`` or ``inlet start`` on a SQLite file of its own, for the whole module."""
    server = _start(request.param, tmp_path_factory.mktemp(f"fuzz-{request.param}"))
    try:
        yield server
        # Nothing accepted is lost to the bad requests that came after it (and the
        # generators do make acceptable events, or this would prove nothing).
        assert server.proc.poll() is None, f"inlet {server.mode} exited; log:\n{server.log()}"
        assert len(server.accepted) > 10
        for event_id in server.accepted:
            reply = server.request("GET", f"/v1/events/{event_id}")
            assert reply.status_code == 200, reply.text
            assert reply.json()["data"]["internal_id"] == event_id
        assert "Traceback" not in server.log(), server.log()
    finally:
        server.stop()


fuzz = settings(max_examples=CASES, deadline=None, database=None, derandomize=True)

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
good_events = st.fixed_dictionaries(
    {"name": st.sampled_from(["app/x", "app/y.z"])},
    optional={"data": st.dictionaries(st.text(max_size=10), json_values, max_size=3)},
)
some_events = st.one_of(good_events, events)
bodies = st.one_of(
    good_events,
    st.lists(good_events, min_size=1, max_size=5),
    events,
    st.lists(some_events, max_size=5),  # events before the first bad one are kept
    json_values,
)
nasty_bytes = st.one_of(
    st.binary(max_size=200),
    st.sampled_from(
        [
            b"[" * 5000,
            b'{"a":' * 5000,
            b'[{"name": "app/x", "data": {"n": 1}}',  # truncated
            b"\xff\xfe\x00not utf-8",
            b'{"name": "app/x", "data": "\xed\xa0\x80"}',
            b'{"name": "app/x", "data": {"s": "' + b"x" * 600_000 + b'"}}',  # over 512 KiB
        ]
    ),
)
headers = st.dictionaries(
    st.sampled_from(
        ["content-type", "x-inngest-event-id-seed", "authorization", "x-inngest-signature",
         "x-inngest-sdk", "x-inngest-server-kind", "content-encoding"]
    ),
    # HTTP trims a value's outer spaces; h11 refuses to send them.
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40).map(
        str.strip
    ),
    max_size=3,
)  # fmt: skip
credentials = st.sampled_from(CREDENTIALS)
segments = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters="/?#%"),
    max_size=30,
)
event_keys = st.one_of(st.just(EVENT_KEY), segments.filter(bool))


@fuzz
@given(key=event_keys, credential=credentials, body=bodies, extra=headers)
def test_the_event_api_answers_any_json_with_2xx_or_4xx(
    edge: Server, key: str, credential: str, body: Any, extra: dict[str, str]
) -> None:
    extra.pop("content-encoding", None)
    edge.send(key, credential, content=json.dumps(body), headers=extra)


@fuzz
@given(key=event_keys, credential=credentials, raw=nasty_bytes, extra=headers)
def test_the_event_api_answers_any_bytes_with_2xx_or_4xx(
    edge: Server, key: str, credential: str, raw: bytes, extra: dict[str, str]
) -> None:
    edge.send(key, credential, content=raw, headers=extra)


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
@given(credential=credentials, body=register_bodies)
def test_registration_answers_any_body_with_2xx_or_4xx(
    edge: Server, credential: str, body: Any
) -> None:
    edge.request("POST", "/fn/register", credential, content=json.dumps(body))


@fuzz
@given(credential=credentials, raw=nasty_bytes)
def test_registration_answers_any_bytes_with_2xx_or_4xx(
    edge: Server, credential: str, raw: bytes
) -> None:
    edge.request("POST", "/fn/register", credential, content=raw)


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
@given(credential=credentials, query=graphql_queries, variables=json_values)
def test_graphql_answers_any_query_with_2xx_or_4xx(
    edge: Server, credential: str, query: str, variables: Any
) -> None:
    body = json.dumps({"query": query, "variables": variables})
    edge.request("POST", "/v0/gql", credential, content=body)


@fuzz
@given(credential=credentials, raw=nasty_bytes)
def test_graphql_answers_any_bytes_with_2xx_or_4xx(
    edge: Server, credential: str, raw: bytes
) -> None:
    edge.request("POST", "/v0/gql", credential, content=raw)


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
    credential=credentials,
)  # fmt: skip
def test_the_rest_api_answers_any_path_and_parameters_with_2xx_or_4xx(
    edge: Server, path: str, segment: str, query: dict[str, str], credential: str
) -> None:
    edge.request("GET", path.format(segment), credential, params=query)


@fuzz
@given(segment=segments, body=json_values, credential=credentials)
def test_the_rest_api_answers_any_write_with_2xx_or_4xx(
    edge: Server, segment: str, body: Any, credential: str
) -> None:
    edge.request("DELETE", f"/v1/runs/{segment}", credential)
    edge.request("POST", "/v1/cancellations", credential, content=json.dumps(body))


@pytest.mark.parametrize("path", [f"/e/{EVENT_KEY}", "/fn/register", "/v0/gql",
                                  "/v1/cancellations"])  # fmt: skip
def test_an_oversized_body_is_refused_before_parsing_with_the_limit_named(
    edge: Server, path: str
) -> None:
    limit = Settings().max_request_bytes
    credential = "signing-key" if path == "/fn/register" else "token"
    reply = edge.request("POST", path, credential, content=b"[" + b" " * limit + b"]")
    assert reply.status_code == 413
    assert f"at most {limit} bytes" in reply.json()["error"]


def test_the_start_server_really_checks_the_event_key_and_the_token(edge: Server) -> None:
    """The credentials drawn above mean something: on ``inlet start`` a wrong event key and
    a read without the token are refused, while ``inlet dev`` takes both."""
    refused = 401 if edge.mode == "start" else 200
    assert edge.send("not-the-key", "none", json={"name": "app/x"}).status_code == refused
    assert edge.request("GET", "/v1/events", "none").status_code == refused
    assert edge.request("GET", "/v1/events", "wrong").status_code == refused
    assert edge.request("GET", "/v1/events", "token").status_code == 200
