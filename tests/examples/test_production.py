"""Both examples against ``inlet start`` with keys, the SDK in production mode: every call
Inlet makes to the apps is signed (the SDK refuses any other), the apps send their events
with an event key, and the reads use an API token. The embeddings example embeds 40 items
(two batches) to 40/40; the generation example completes a session."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from acceptance.harness import wait_for
from acceptance.test_production_keys import EVENT_KEY, KEY_A, start_server

from .conftest import STACK_KEY, ExampleStack, seed

pytestmark = [pytest.mark.acceptance, pytest.mark.slow]

ITEMS = 40


@pytest.fixture
def example(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ExampleStack]:
    stack = ExampleStack(tmp_path)
    request.node.stash[STACK_KEY] = stack
    try:
        yield stack
    finally:
        stack.close()


@pytest.mark.timeout(600)
def test_both_examples_run_against_inlet_start_with_keys(
    example: ExampleStack, tmp_path: Path, embeddings_python: Path
) -> None:
    server = start_server(example, KEY_A)
    production = {
        "INNGEST_DEV": "0",
        "INNGEST_SIGNING_KEY": KEY_A,
        "INNGEST_EVENT_KEY": EVENT_KEY,
        "INNGEST_API_BASE_URL": server.url,
        "INNGEST_EVENT_API_BASE_URL": server.url,
    }
    embeddings = example.example(
        "app-embeddings",
        "examples.embeddings.app:app",
        str(embeddings_python),
        {**production, "EMBEDDINGS_DATABASE": str(tmp_path / "e.db")},
    )
    generation = example.example(
        "app-generation",
        "examples.generation.app:app",
        sys.executable,
        {
            **production,
            "GENERATION_DATABASE": str(tmp_path / "g.db"),
            "GENERATION_OFFLINE_DELAY": "0.2",
        },
    )
    for app in (embeddings, generation):
        app.ready = (200, 401)
        app.start()
        # Out-of-band sync: the SDK registers itself with Inlet, signed with its key.
        assert httpx.put(app.serve_url, timeout=30.0).status_code == 200
    server.wait_functions(["embeddings-compute-embeddings", "generation-generate-seeds"])

    done = seed.seed(embeddings.url, server.url, EVENT_KEY, ITEMS)
    assert done["added"] == ITEMS
    (run,) = server.runs_for_event(done["event_ids"][0], timeout=120)
    assert run["status"] == "Completed", run
    assert run["output"]["progress"] == f"Progress: {ITEMS}/{ITEMS}", run

    made = httpx.post(f"{generation.url}/api/sessions", json={"prompt": "a quiet harbour town"})
    assert made.status_code == 201, made.text
    session_url = f"{generation.url}/api/sessions/{made.json()['id']}"

    def completed() -> dict[str, object] | None:
        session: dict[str, object] = httpx.get(session_url).json()
        return session if session["status"] != "IN_PROGRESS" else None

    session = wait_for(completed, 60, "the session to complete")
    assert session["status"] == "COMPLETED", session
    assert isinstance(session["seeds"], list) and len(session["seeds"]) == 5, session
