"""The seed incident, replayed end to end: an app whose step fails because an environment
variable is missing runs on a schedule and on events. Its first runs all fail, and a
webhook receiver on loopback gets exactly one alert naming the function and the first
error, even though inlet is SIGKILLed after recording the alert and before delivering it;
setting the variable and replaying the failed runs resolves the alert.

Run once, on SQLite: the outbox and the one-firing index are the same SQL on both
backends (the store contract tests run them on PostgreSQL)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from ports import free_port

from .harness import Stack, wait_for

pytestmark = [pytest.mark.acceptance, pytest.mark.slow]

FUNCTION = "accept-alert-charge"
ROUND = 10.0
"""The alerts loop's interval (inlet.alerts.service.INTERVAL)."""


class Receiver:
    """A webhook on loopback: it keeps every request, answering ``status``."""

    def __init__(self) -> None:
        self.status = 500
        self.requests: list[tuple[str, dict[str, Any], int]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with receiver.lock:
                    status = receiver.status
                    receiver.requests.append((self.headers["Idempotency-Key"], body, status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.port = free_port()
        self.http = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def delivered(self, state: str) -> dict[str, dict[str, Any]]:
        """Answered 2xx, by delivery id (a repeat of an id is one delivery)."""
        with self.lock:
            return {k: b for k, b, s in self.requests if s < 300 and b["state"] == state}

    def attempts(self) -> int:
        with self.lock:
            return len(self.requests)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    receiver.thread.start()
    try:
        yield receiver
    finally:
        receiver.http.shutdown()
        receiver.http.server_close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.timeout(300)
def test_a_step_failing_for_a_missing_variable_alerts_once_across_a_kill_and_resolves(
    stack: Stack, receiver: Receiver
) -> None:
    port = free_port()
    app = stack.app("apps.alert_app:app", server_url=f"http://127.0.0.1:{port}")
    server = stack.server([app.url], port=port, extra_args=("--alert-webhook", receiver.url))
    server.wait_functions([FUNCTION])

    for n in range(3):
        server.send_one("alert/order", {"n": n})

    def failed() -> int | None:
        server.process.assert_running()
        resp = server.http.get("/v1/runs/counts", params={"function": FUNCTION})
        n = int(resp.json()["data"]["statuses"]["FAILED"])
        return n if n >= 3 else None

    wait_for(failed, 60, f"3 failed runs of {FUNCTION}", interval=0.2)

    def firing() -> dict[str, Any] | None:
        resp = server.http.get("/v1/alerts", params={"state": "firing"})
        assert resp.status_code == 200, resp.text
        found = [a for a in resp.json()["data"] if a["subject"] == FUNCTION]
        return found[0] if found else None

    alert = wait_for(firing, 3 * ROUND, "the alert to fire", interval=0.2)
    # Recorded, and the receiver has refused it (500): kill before any delivery succeeds.
    wait_for(lambda: receiver.attempts() >= 1, ROUND, "a first delivery attempt", 0.1)
    server.kill()
    assert receiver.delivered("firing") == {}
    receiver.status = 200
    server.start()

    wait_for(lambda: receiver.delivered("firing"), 6 * ROUND, "the alert's delivery", 0.2)
    (body,) = receiver.delivered("firing").values()
    assert body["alert"]["id"] == alert["id"]
    assert body["alert"]["function"] == FUNCTION
    assert body["alert"]["app"] == app.url
    assert "KeyError" in body["alert"]["error"], body
    assert "ACCEPT_STRIPE_KEY" in body["alert"]["error"], body
    assert body["alert"]["run_url"].startswith(f"{server.url}/ui/runs/")

    # The fix: the variable set, the failed runs replayed.
    app.stop()
    app.env["ACCEPT_STRIPE_KEY"] = "sk_test_seed"
    app.start()
    made = server.http.post(
        "/v1/bulk",
        json={"kind": "replay", "function_id": FUNCTION, "statuses": ["Failed"], "name": "fix"},
    )
    assert made.status_code == 201, made.text

    wait_for(lambda: receiver.delivered("resolved"), 6 * ROUND, "the resolution", 0.2)
    (resolved,) = receiver.delivered("resolved").values()
    assert resolved["alert"]["id"] == alert["id"]
    assert len(receiver.delivered("firing")) == 1
    alerts = server.http.get("/v1/alerts").json()["data"]
    assert [(a["id"], a["state"]) for a in alerts if a["subject"] == FUNCTION] == [
        (alert["id"], "resolved")
    ]
