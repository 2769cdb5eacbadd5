"""The embeddings pipeline as Inngest functions (official Python SDK).

``compute-embeddings`` runs every 15 minutes and on ``embeddings/compute.requested``: its
first step records a job for the items that need a vector, then one step per batch of 20
(``process-batch-0``, ``process-batch-1``, ...) embeds the batch and counts it in the job in
the same transaction. Bridges turn the product's own events into compute requests;
workspace metrics are aggregated twice a day and on request, and pruned daily.
"""

from __future__ import annotations

import datetime
import logging
import time
from typing import Any

import inngest

from .config import Config
from .model import Embedder, EmbeddingError
from .seed import BRIDGE_EVENTS
from .store import Store

BATCH_SIZE = 20
COMPUTE_REQUESTED = "embeddings/compute.requested"
METRICS_KEPT = datetime.timedelta(days=30)

log = logging.getLogger("embeddings")


def batches(ids: list[int], size: int = BATCH_SIZE) -> list[list[int]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def check_dimensions(vectors: list[list[float]], texts: int, expected: int) -> None:
    """A model that answers the wrong width or count fails the batch for good: retrying
    cannot change the model's output, and a partial write would corrupt the index."""
    if len(vectors) != texts:
        raise inngest.NonRetriableError(
            f"the model returned {len(vectors)} vectors for {texts} texts"
        )
    for vector in vectors:
        if len(vector) != expected:
            raise inngest.NonRetriableError(
                f"the model returned {len(vector)} dimensions but the vector column holds "
                f"{expected}: use a {expected}-dimension model (or ask the API for "
                f"dimensions={expected}), or rebuild the index for {len(vector)}"
            )


def build(
    client: inngest.Inngest, config: Config, store: Store, model: Embedder
) -> list[inngest.Function[Any]]:
    """Every function of the app, bound to its store and model."""

    async def mark_job_failed(ctx: inngest.Context) -> None:
        # The run failed for good: its job says so and why, rather than sitting at 0/N.
        error = ctx.event.data.get("error") or {}
        message = str(error.get("message") or error) if isinstance(error, dict) else str(error)
        run_id = str(ctx.event.data.get("run_id", ""))
        job = store.fail_run_job(run_id, message)
        log.error("compute-embeddings run %s failed: %s (job %s)", run_id, message, job)

    @client.create_function(
        fn_id="compute-embeddings",
        trigger=[
            inngest.TriggerCron(cron="*/15 * * * *"),
            inngest.TriggerEvent(event=COMPUTE_REQUESTED),
        ],
        # One call in flight at a time across all runs: the model has the CPU to itself.
        concurrency=[inngest.Concurrency(limit=1)],
        retries=3,
        on_failure=mark_job_failed,
    )
    async def compute_embeddings(ctx: inngest.Context) -> dict[str, Any]:
        reason = str(ctx.event.data.get("reason") or ctx.event.name)

        async def create_job() -> dict[str, Any]:
            ids = store.needing_embedding()
            job = store.start_job(ctx.run_id, reason, len(ids))
            return {"job_id": job.id, "item_ids": ids}

        created = await ctx.step.run("create-job", create_job)
        job_id = int(created["job_id"])
        progress = f"Progress: 0/{len(created['item_ids'])}"
        for n, chunk in enumerate(batches([int(i) for i in created["item_ids"]])):

            async def process_batch(n: int = n, chunk: list[int] = chunk) -> str:
                items = store.items(chunk)
                texts = [item.text for item in items]
                try:
                    vectors = await model.embed(texts)
                except EmbeddingError as exc:
                    if not exc.retriable:
                        raise inngest.NonRetriableError(str(exc)) from exc
                    raise
                check_dimensions(vectors, len(texts), config.dimensions)
                by_item = {i.id: v for i, v in zip(items, vectors, strict=True)}
                job = store.save_batch(job_id, n, by_item)
                return job.progress

            progress = await ctx.step.run(f"process-batch-{n}", process_batch)

        async def finish_job() -> str:
            job = store.finish_job(job_id, "completed")
            assert job is not None
            return job.progress

        progress = await ctx.step.run("finish-job", finish_job)
        return {"job_id": job_id, "progress": progress}

    def bridge(event_name: str) -> inngest.Function[Any]:
        slug = event_name.replace("/", "-").replace(".", "-")

        @client.create_function(
            fn_id=f"bridge-{slug}", trigger=inngest.TriggerEvent(event=event_name)
        )
        async def forward(ctx: inngest.Context) -> list[str]:
            requested = inngest.Event(
                name=COMPUTE_REQUESTED,
                data={"reason": event_name, "source": ctx.event.data},
            )
            return await ctx.step.send_event("request-compute", requested)

        return forward

    @client.create_function(
        fn_id="aggregate-workspace-metrics",
        trigger=[
            inngest.TriggerEvent(event="workspace.metrics.aggregate"),
            inngest.TriggerCron(cron="0 6,18 * * *"),
        ],
    )
    async def aggregate_metrics(ctx: inngest.Context) -> int:
        async def aggregate() -> int:
            return store.aggregate_metrics()

        return await ctx.step.run("aggregate", aggregate)

    @client.create_function(
        fn_id="cleanup-old-metrics", trigger=inngest.TriggerCron(cron="0 3 * * *")
    )
    async def cleanup_metrics(ctx: inngest.Context) -> int:
        async def cleanup() -> int:
            return store.delete_metrics_before(time.time() - METRICS_KEPT.total_seconds())

        return await ctx.step.run("delete-old-metrics", cleanup)

    return [
        compute_embeddings,
        *(bridge(name) for name in BRIDGE_EVENTS),
        aggregate_metrics,
        cleanup_metrics,
    ]
