"""What TS v4 checkpointing buys: a 10-step function with it on and off, one run at a time.

    .venv/bin/python bench/checkpoint.py            # 15 runs of each, after 3 warm-ups
    .venv/bin/python bench/checkpoint.py --runs 30 --steps 10

Starts ``tests/node/apps/checkpoint_app.js`` (``inngest@4`` from ``tests/node``, installed
by ``scripts/bootstrap``) and ``inlet dev`` on a fresh SQLite file, both on free loopback
ports, and stops both by PID at the end. The app serves the same function twice: ``on``
(the SDK's default, checkpointing) and ``off`` (``checkpointing: false``). Runs alternate
between the two so a drift of the machine hits both alike.

Per run it reports the requests (call requests Inlet made to the app, and checkpoints the
app made to Inlet, both from the app's journal) and the time from the run's start to its
end as the server recorded them; the figures are medians over the runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from procs import free_port, spawn, supervised

ROOT = Path(__file__).resolve().parent.parent
NODE_DIR = ROOT / "tests" / "node"
APP = NODE_DIR / "apps" / "checkpoint_app.js"
APP_ID = "checkpoint-v4"


def wait(what: str, check: Any, timeout: float = 60.0, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = check()
        except httpx.HTTPError:
            value = None
        if value:
            return value
        time.sleep(interval)
    raise SystemExit(f"gave up waiting {timeout:.0f}s for {what}")


def stamp(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def records(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def one_run(http: httpx.Client, fn: str, journal: Path) -> tuple[int, int, float]:
    """(call requests, checkpoints, seconds from the run's start to its end)."""
    key = uuid.uuid4().hex
    sent = http.post("/e/bench", json={"name": f"{APP_ID}/{fn}", "data": {"key": key}})
    sent.raise_for_status()
    event_id = sent.json()["ids"][0]

    def ended() -> dict[str, Any] | None:
        runs = http.get(f"/v1/events/{event_id}/runs").json()["data"]
        return runs[0] if runs and runs[0]["status"] in ("Completed", "Failed") else None

    run = wait(f"the {fn} run of event {event_id}", ended, interval=0.01)
    if run["status"] != "Completed":
        raise SystemExit(f"run {run['run_id']} ended {run['status']}: {run.get('output')}")
    rows = records(journal)
    calls = sum(1 for r in rows if r["kind"] == "call" and r.get("run_id") == run["run_id"])
    checkpoints = sum(
        1 for r in rows if r["kind"] == "checkpoint" and r.get("run_id") == run["run_id"]
    )
    return calls, checkpoints, stamp(run["ended_at"]) - stamp(run["run_started_at"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="measured runs of each (15)")
    parser.add_argument("--steps", type=int, default=10, help="steps per run (10)")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured runs of each (3)")
    args = parser.parse_args()
    if shutil.which("node") is None or not (NODE_DIR / "node_modules" / "inngest4").is_dir():
        raise SystemExit("needs node and tests/node/node_modules (run scripts/bootstrap)")

    tmp = Path(tempfile.mkdtemp(prefix="inlet-bench-checkpoint-"))
    journal = tmp / "journal.jsonl"
    app_port, inlet_port = free_port(), free_port()
    inlet_url = f"http://127.0.0.1:{inlet_port}"
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("INNGEST_", "INLET_"))}
    app_env = {
        **base_env,
        "NODE_SDK": "4",
        "PORT": str(app_port),
        "APP_ID": APP_ID,
        "STEPS": str(args.steps),
        "ACCEPT_RECORD_FILE": str(journal),
        "INNGEST_DEV": inlet_url,
    }
    app_url = f"http://127.0.0.1:{app_port}/api/inngest"
    inlet_argv = [sys.executable, "-m", "inlet", "dev", "--host", "127.0.0.1"]
    inlet_argv += ["--port", str(inlet_port), "--no-discovery", "-u", app_url]
    inlet_argv += ["--database-url", f"sqlite:///{tmp / 'inlet.db'}", "--log-level", "warning"]
    try:
        with supervised() as children:
            children.append(spawn("app", ["node", str(APP)], app_env, tmp / "app.log", NODE_DIR))
            wait("the app", lambda: httpx.get(app_url, timeout=2).status_code == 200)
            children.append(spawn("inlet", inlet_argv, base_env, tmp / "inlet.log", ROOT))
            with httpx.Client(base_url=inlet_url, timeout=10.0) as http:
                wanted = (f"{APP_ID}-on", f"{APP_ID}-off")
                wait("the app's functions", lambda: all(f in http.get("/dev").text for f in wanted))
                for _ in range(args.warmup):
                    for fn in ("on", "off"):
                        one_run(http, fn, journal)
                results: dict[str, list[tuple[int, int, float]]] = {"on": [], "off": []}
                for _ in range(args.runs):
                    for fn in ("on", "off"):
                        results[fn].append(one_run(http, fn, journal))
        report(results, args.steps)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def report(results: dict[str, list[tuple[int, int, float]]], steps: int) -> None:
    print(f"{steps}-step TS v4 function (inngest 4, node), {len(results['on'])} runs each, medians")
    print(
        f"{'checkpointing':<14}{'calls/run':>10}{'checkpoints/run':>17}{'requests/run':>14}{'ms/run':>9}"
    )
    for fn in ("on", "off"):
        rows = results[fn]
        calls = statistics.median(r[0] for r in rows)
        checkpoints = statistics.median(r[1] for r in rows)
        ms = statistics.median(r[2] for r in rows) * 1000
        print(f"{fn:<14}{calls:>10.0f}{checkpoints:>17.0f}{calls + checkpoints:>14.0f}{ms:>9.1f}")
    on = statistics.median(r[2] for r in results["on"])
    off = statistics.median(r[2] for r in results["off"])
    print(f"time per run with checkpointing: {on / off:.2f}x of without")


if __name__ == "__main__":
    main()
