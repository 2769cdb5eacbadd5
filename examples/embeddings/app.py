"""The embeddings example's web app: Inngest functions at /api/inngest, similarity search
at /api/search and /api/items/{id}/similar, jobs at /api/jobs, and a page at /.

    EMBEDDINGS_DATABASE=.inlet/embeddings.db INNGEST_DEV=http://127.0.0.1:8288 \
        examples/embeddings/.venv/bin/uvicorn examples.embeddings.app:app --port 3000

README.md beside this file lists every variable; a missing one stops the app at start-up.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import fastapi
import inngest
import inngest.fast_api
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from . import config as config_lib
from .functions import COMPUTE_REQUESTED, build
from .model import Embedder, HostedEmbeddings, LocalModel
from .store import Item, Job, Store, open_database

PAGE = Path(__file__).with_name("page.html")


class NewItem(BaseModel):
    repo: str = Field(min_length=1)
    kind: str = Field(pattern="^(issue|pr)$")
    number: int = Field(ge=1)
    title: str = Field(min_length=1)
    body: str = ""


def _item(item: Item, distance: float | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {
        "id": item.id,
        "repo": item.repo,
        "kind": item.kind,
        "number": item.number,
        "title": item.title,
        "body": item.body,
    }
    if distance is not None:
        found["distance"] = round(distance, 4)
    return found


def create_app(config: config_lib.Config) -> fastapi.FastAPI:
    store = Store(open_database(config.database, config.dimensions))
    model: Embedder = (
        HostedEmbeddings(config.hosted, config.dimensions) if config.hosted else LocalModel()
    )
    client = inngest.Inngest(app_id="embeddings", logger=logging.getLogger("uvicorn"))
    app = fastapi.FastAPI(title="Inlet example: embeddings")
    inngest.fast_api.serve(app, client, build(client, config, store, model))

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(PAGE)

    @app.get("/api/status")
    async def status() -> dict[str, Any]:
        return {"model": model.name, "dimensions": config.dimensions, **store.counts()}

    @app.post("/api/items")
    async def add_items(items: list[NewItem]) -> dict[str, int]:
        return {"added": store.add_items([i.model_dump() for i in items])}

    @app.get("/api/items/{item_id}")
    async def get_item(item_id: int) -> dict[str, Any]:
        item = store.item(item_id)
        if item is None:
            raise fastapi.HTTPException(404, f"no item {item_id}")
        return _item(item)

    @app.get("/api/items/{item_id}/similar")
    async def similar_items(item_id: int, k: int = 5) -> dict[str, Any]:
        item = store.item(item_id)
        if item is None:
            raise fastapi.HTTPException(404, f"no item {item_id}")
        vector = store.vector(item_id)
        if vector is None:
            raise fastapi.HTTPException(
                409,
                f"item {item_id} has no embedding yet; send {COMPUTE_REQUESTED} and wait for it",
            )
        found = store.similar(vector, k + 1)
        results = [_item(i, d) for i, d in found if i.id != item_id][:k]
        return {"item": _item(item), "results": results}

    @app.get("/api/search")
    async def search(q: str = fastapi.Query(min_length=1), k: int = 5) -> dict[str, Any]:
        (vector,) = await model.embed([q])
        if len(vector) != config.dimensions:
            raise fastapi.HTTPException(
                502,
                f"the model returned {len(vector)} dimensions but the index holds "
                f"{config.dimensions}",
            )
        return {"query": q, "results": [_item(i, d) for i, d in store.similar(vector, k)]}

    @app.get("/api/jobs")
    async def jobs() -> dict[str, Any]:
        return {"data": [_job(j) for j in store.jobs()]}

    @app.get("/api/jobs/{job_id}")
    async def job(job_id: int) -> dict[str, Any]:
        found = store.job(job_id)
        if found is None:
            raise fastapi.HTTPException(404, f"no job {job_id}")
        return _job(found)

    return app


def _job(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "run_id": job.run_id,
        "reason": job.reason,
        "status": job.status,
        "processed": job.processed,
        "total": job.total,
        "progress": job.progress,
        "error": job.error,
    }


def _load() -> config_lib.Config:
    try:
        return config_lib.load()
    except config_lib.ConfigError as exc:
        print(f"embeddings example: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


app = create_app(_load())
