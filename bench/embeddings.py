"""Embeddings per second through the pipeline against the model alone, in the same run.

    python bench/embeddings.py [--items 300] [--rounds 2]

The model alone: ``LocalModel.embed_sync`` over the seed items' texts in batches of 20, in
the example's own venv (``examples/embeddings/setup``). Through the pipeline: ``inlet dev``
on a fresh SQLite file and the embeddings example app on free loopback ports, the same
items posted, then one ``embeddings/compute.requested`` event; timed from the event to the
run's end (a step per batch, each batch's vectors and progress committed together).
Both are timed ``--rounds`` times, alternating, and the best of each is reported, so that
a moment of load from elsewhere on the machine counts against neither.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"

MODEL_ALONE = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
from examples.embeddings.model import LocalModel
from examples.embeddings.seed import items
texts = [f"{i['title']}\\n\\n{i['body']}" for i in items(int(sys.argv[2]))]
model = LocalModel()
model.embed_sync(texts[:20])
start = time.perf_counter()
for n in range(0, len(texts), 20):
    model.embed_sync(texts[n : n + 20])
print(json.dumps({"seconds": time.perf_counter() - start}))
"""


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def wait(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=2.0)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {timeout:.0f}s")


def model_alone(python: str, count: int) -> float:
    done = subprocess.run(
        [python, "-c", MODEL_ALONE, str(REPO), str(count)],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    seconds: float = json.loads(done.stdout.strip().splitlines()[-1])["seconds"]
    return seconds


def pipeline(python: str, count: int, work: Path) -> float:
    inlet_port, app_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INNGEST_", "INLET_"))}
    env |= {
        "INNGEST_DEV": f"http://{HOST}:{inlet_port}",
        "EMBEDDINGS_DATABASE": str(work / "embeddings.db"),
    }
    app_url = f"http://{HOST}:{app_port}"
    inlet_url = f"http://{HOST}:{inlet_port}"
    logs = (work / "app.log").open("wb"), (work / "inlet.log").open("wb")
    app = subprocess.Popen(
        [python, "-m", "uvicorn", "examples.embeddings.app:app", "--port", str(app_port)],
        cwd=REPO,
        env=env,
        stdout=logs[0],
        stderr=subprocess.STDOUT,
    )
    inlet_argv = [sys.executable, "-m", "inlet", "dev", "--port", str(inlet_port)]
    inlet_argv += ["--no-discovery", "--database-url", f"sqlite:///{work / 'inlet.db'}"]
    inlet = subprocess.Popen(
        [*inlet_argv, "-u", f"{app_url}/api/inngest"],
        cwd=REPO,
        env=env | {"PYTHONPATH": str(REPO / "src")},
        stdout=logs[1],
        stderr=subprocess.STDOUT,
    )
    try:
        wait(f"{app_url}/api/inngest")
        wait(f"{inlet_url}/dev")
        sys.path.insert(0, str(REPO))
        from examples.embeddings.seed import items

        with httpx.Client(timeout=30.0) as http:
            until(lambda: "embeddings-compute-embeddings" in http.get(f"{inlet_url}/dev").text)
            added = http.post(f"{app_url}/api/items", json=items(count)).json()["added"]
            assert added == count, f"added {added} of {count} items"
            start = time.perf_counter()
            sent = http.post(
                f"{inlet_url}/e/bench", json={"name": "embeddings/compute.requested", "data": {}}
            ).json()
            (event_id,) = sent["ids"]
            run = until(lambda: _ended(http, inlet_url, event_id))
            seconds = time.perf_counter() - start
        assert run["status"] == "Completed", run
        assert run["output"]["progress"] == f"Progress: {count}/{count}", run
        return seconds
    finally:
        for proc in (inlet, app):
            proc.terminate()
            proc.wait(10)
        for log in logs:
            log.close()


def _ended(http: httpx.Client, inlet_url: str, event_id: str) -> dict[str, Any] | None:
    runs = http.get(f"{inlet_url}/v1/events/{event_id}/runs").json()["data"]
    if runs and runs[0]["status"] in ("Completed", "Failed", "Cancelled"):
        found: dict[str, Any] = runs[0]
        return found
    return None


def until(predicate: Any, timeout: float = 600.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.05)
    raise SystemExit(f"timed out after {timeout:.0f}s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=300, help="items to embed")
    parser.add_argument("--rounds", type=int, default=2, help="timings of each, best kept")
    args = parser.parse_args(argv)
    setup = subprocess.run(
        ["bash", str(REPO / "examples/embeddings/setup")], capture_output=True, text=True
    )
    if setup.returncode != 0:
        raise SystemExit(f"examples/embeddings/setup failed: {setup.stderr[-2000:]}")
    python = setup.stdout.strip().splitlines()[-1]
    alone: list[float] = []
    through: list[float] = []
    for _ in range(args.rounds):
        alone.append(model_alone(python, args.items))
        with tempfile.TemporaryDirectory(prefix="bench-embeddings-") as work:
            through.append(pipeline(python, args.items, Path(work)))
    best_alone, best_through = args.items / min(alone), args.items / min(through)
    print(f"items: {args.items}, batches of 20, best of {args.rounds}")
    print(f"model alone:        {best_alone:6.1f} embeddings/s")
    print(f"through the pipeline: {best_through:4.1f} embeddings/s")
    print(f"pipeline / model:   {best_through / best_alone:6.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
