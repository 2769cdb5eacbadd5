"""The embeddings example's production incidents, replayed against the real ``inlet dev``:
a key the embeddings API refuses, and a model answering 1536 dimensions for a 384-wide
column. The API is a fake OpenAI-compatible ``/embeddings`` on loopback that counts its
calls, so "failed without a retry" is a count, not a guess."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from acceptance.harness import wait_for
from ports import free_port

from .conftest import STACK_KEY, ExampleStack, seed

pytestmark = [pytest.mark.acceptance, pytest.mark.slow]

COMPUTE = "embeddings-compute-embeddings"
ITEMS = 30


class FakeEmbeddingsApi:
    """``POST /v1/embeddings``: 401 while ``refuse`` is set, else vectors of ``width``."""

    def __init__(self) -> None:
        self.refuse = True
        self.width = 384
        self.calls = 0
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                api.calls += 1
                answer: dict[str, Any]
                if api.refuse:
                    status, answer = 401, {"error": {"message": "Incorrect API key provided"}}
                else:
                    vectors = [[0.01] * api.width for _ in body["input"]]
                    status = 200
                    answer = {"data": [{"index": i, "embedding": v} for i, v in enumerate(vectors)]}
                raw = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http.server_address[1]}/v1"


@pytest.fixture
def api() -> Iterator[FakeEmbeddingsApi]:
    api = FakeEmbeddingsApi()
    api.thread.start()
    try:
        yield api
    finally:
        api.http.shutdown()
        api.http.server_close()


@pytest.fixture
def example(
    request: pytest.FixtureRequest, tmp_path: Path, embeddings_python: Path
) -> Iterator[ExampleStack]:
    stack = ExampleStack(tmp_path)
    request.node.stash[STACK_KEY] = stack
    try:
        yield stack
    finally:
        stack.close()


def _job(app_url: str, run_id: str) -> dict[str, Any]:
    jobs = httpx.get(f"{app_url}/api/jobs").json()["data"]
    (job,) = [j for j in jobs if j["run_id"] == run_id]
    found: dict[str, Any] = job
    return found


def _clear_of_the_cron(needed: float = 60.0) -> None:
    """Wait past the next quarter-hour if it is less than ``needed`` seconds away:
    compute-embeddings also runs at every quarter-hour, and a fire during a phase would
    add calls to the fake API that the phase did not make."""
    left = 900 - time.time() % 900
    if left < needed:
        time.sleep(left + 10)


def _ended_job(app_url: str, run_id: str) -> dict[str, Any]:
    def ended() -> dict[str, Any] | None:
        job = _job(app_url, run_id)
        return job if job["status"] != "running" else None

    return wait_for(ended, 30, f"the job of run {run_id} to leave running")


@pytest.mark.timeout(600)
def test_a_refused_key_fails_each_run_naming_it_and_raises_an_alert_and_so_does_a_wrong_width(
    example: ExampleStack, api: FakeEmbeddingsApi, tmp_path: Path, embeddings_python: Path
) -> None:
    port = free_port()
    app = example.example(
        "app-embeddings-hosted",
        "examples.embeddings.app:app",
        str(embeddings_python),
        {
            "INNGEST_DEV": f"http://127.0.0.1:{port}",
            "EMBEDDINGS_DATABASE": str(tmp_path / "e.db"),
            "EMBEDDINGS_PROVIDER": "hosted",
            "EMBEDDINGS_API_URL": api.url,
            "EMBEDDINGS_API_KEY": "sk-revoked",
            "EMBEDDINGS_API_MODEL": "text-embedding-3-small",
        },
    )
    app.start()
    server = example.server([app.serve_url], port=port, extra_args=("--alert-interval", "1s"))
    server.wait_functions([COMPUTE])
    added = httpx.post(f"{app.url}/api/items", json=seed.items(ITEMS)).json()
    assert added == {"added": ITEMS}

    # The key is refused: each run fails at its first batch, once, naming the variable.
    _clear_of_the_cron()
    api.calls = 0
    failed_runs = []
    for n in range(3):
        event_id = server.send_one("embeddings/compute.requested", {"reason": f"try {n}"})
        (run,) = server.runs_for_event(event_id)
        assert run["status"] == "Failed", run
        failed_runs.append(run)
    assert api.calls == 3, "a refused key must not be retried"
    for run in failed_runs:
        history = json.dumps(server.history(run["run_id"]))
        assert "EMBEDDINGS_API_KEY was refused" in history, history[:3000]
        # The job was created (step one) before the batch failed.
        assert _job(app.url, run["run_id"])["total"] == ITEMS
        # The job says failed and why: never a job sitting at 0/30.
        job = _ended_job(app.url, run["run_id"])
        assert (job["status"], job["processed"], job["total"]) == ("failed", 0, ITEMS), job
        assert "EMBEDDINGS_API_KEY" in job["error"], job

    def firing() -> dict[str, Any] | None:
        alerts = server.http.get("/v1/alerts", params={"state": "firing"}).json()["data"]
        found = [a for a in alerts if a["subject"] == COMPUTE]
        return found[0] if found else None

    alert = wait_for(firing, 30, f"an alert on {COMPUTE}", interval=0.5)
    assert "EMBEDDINGS_API_KEY" in json.dumps(alert), alert

    # The key works but the model answers 1536 dimensions: the batch fails for good.
    _clear_of_the_cron(30)
    api.refuse, api.width, api.calls = False, 1536, 0
    event_id = server.send_one("embeddings/compute.requested", {"reason": "wide model"})
    (run,) = server.runs_for_event(event_id)
    assert run["status"] == "Failed", run
    assert api.calls == 1, "a wrong width must not be retried"
    history = json.dumps(server.history(run["run_id"]))
    assert "the model returned 1536 dimensions but the vector column holds 384" in history
    job = _ended_job(app.url, run["run_id"])
    assert job["status"] == "failed" and "1536" in job["error"] and "384" in job["error"], job
    assert httpx.get(f"{app.url}/api/status").json()["embedded"] == 0
