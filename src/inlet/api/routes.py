"""The route table: every path the server answers, its methods and its handler.

The handlers come in already built (``inlet.server`` gives each the services it needs),
so this module is the one place to read to learn what the HTTP API is.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from inlet.api.alerts import AlertsAPI
from inlet.api.apps import AppsAPI
from inlet.api.checkpoint import CheckpointAPI
from inlet.api.doctor import DoctorAPI
from inlet.api.events import EventsAPI
from inlet.api.functions import FunctionsAPI
from inlet.api.graphql import GraphQLAPI
from inlet.api.health import HealthAPI
from inlet.api.metrics import MetricsAPI
from inlet.api.openapi import openapi
from inlet.api.operations import OperationsAPI
from inlet.api.render import json_response
from inlet.api.runs import RunsAPI
from inlet.api.sdk import SdkAPI
from inlet.api.sync import SyncAPI


async def health(request: Request) -> Response:
    """Liveness only: the process serves HTTP. It does not touch the store."""
    return json_response({"status": "ok"})


def routes(
    events: EventsAPI,
    runs: RunsAPI,
    sdk: SdkAPI,
    sync: SyncAPI,
    graphql: GraphQLAPI,
    apps: AppsAPI,
    functions: FunctionsAPI,
    operations: OperationsAPI,
    health_checks: HealthAPI,
    metrics: MetricsAPI,
    doctor: DoctorAPI,
    alerts: AlertsAPI,
    checkpoint: CheckpointAPI,
) -> list[Route]:
    # Every /v1, /e and /health route is described in api/openapi.json, and
    # tests/integration/test_openapi.py fails when the two disagree.
    return [
        Route("/e/{key}", events.send, methods=["POST"]),
        Route("/e", events.send_without_key, methods=["POST"]),
        Route("/e/", events.send_without_key, methods=["POST"]),
        Route("/fn/register", sdk.register, methods=["POST"]),
        Route("/dev", sync.dev_info, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
        Route("/health/ready", health_checks.ready, methods=["GET"]),
        # Prometheus text; not under /v1, so not in openapi.json. A token in inlet start.
        Route("/metrics", metrics.scrape, methods=["GET"]),
        Route("/v0/runs/{run_id}/batch", sdk.run_batch, methods=["GET"]),
        Route("/v0/runs/{run_id}/actions", sdk.run_actions, methods=["GET"]),
        Route("/v1/openapi.json", openapi, methods=["GET"]),
        Route("/v1/events", events.list_events, methods=["GET"]),
        Route("/v1/events", events.send_v1, methods=["POST"]),
        Route("/v1/events/{event_id}", events.get_event, methods=["GET"]),
        Route("/v1/events/{event_id}/runs", events.event_runs, methods=["GET"]),
        # Before /v1/runs/{run_id}, which would take "counts" for a run id.
        Route("/v1/runs", runs.list_runs, methods=["GET"]),
        Route("/v1/runs/counts", runs.counts, methods=["GET"]),
        Route("/v1/functions", functions.list_functions, methods=["GET"]),
        Route("/v1/functions/{slug}", functions.get_function, methods=["GET"]),
        Route("/v1/functions/{slug}/invoke", functions.invoke, methods=["POST"]),
        Route("/v1/functions/{slug}/stats", runs.stats, methods=["GET"]),
        Route("/v1/functions/{slug}/pause", operations.pause, methods=["POST"]),
        Route("/v1/functions/{slug}/resume", operations.resume, methods=["POST"]),
        Route("/v1/runs/{run_id}", runs.get_run, methods=["GET"]),
        Route("/v1/runs/{run_id}", runs.cancel, methods=["DELETE"]),
        Route("/v1/cancellations", runs.bulk_cancel, methods=["POST"]),
        Route("/v1/runs/{run_id}/history", runs.history, methods=["GET"]),
        Route("/v1/runs/{run_id}/rerun", operations.rerun, methods=["POST"]),
        Route("/v1/runs/{run_id}/metadata", sdk.update_metadata, methods=["POST"]),
        # TS v4 checkpointing (api/checkpoint.py); the other two serve durable endpoints.
        Route("/v1/checkpoint/{run_id}/async", checkpoint.save_async, methods=["POST"]),
        Route(
            "/v1/checkpoint/{run_id}/steps",
            checkpoint.endpoints.report_steps,
            methods=["POST"],
        ),
        Route("/v1/checkpoint", checkpoint.endpoints.new_run, methods=["POST"]),
        Route("/v1/http/runs/{run_id}/output", checkpoint.endpoints.output, methods=["GET"]),
        Route("/v1/realtime/publish/tee", checkpoint.endpoints.streams.publish, methods=["POST"]),
        Route("/v1/realtime/sse", checkpoint.endpoints.streams.follow, methods=["GET"]),
        Route("/v1/bulk", operations.list_bulk, methods=["GET"]),
        Route("/v1/bulk", operations.create_bulk, methods=["POST"]),
        Route("/v1/bulk/{op_id}", operations.get_bulk, methods=["GET"]),
        Route("/v1/bulk/{op_id}/cancel", operations.cancel_bulk, methods=["POST"]),
        Route("/v1/apps", apps.list_apps, methods=["GET"]),
        Route("/v1/apps/sync", apps.sync, methods=["POST"]),
        Route("/v1/doctor", doctor.check, methods=["GET"]),
        Route("/v1/alerts", alerts.list_alerts, methods=["GET"]),
        Route("/v0/gql", graphql.handle, methods=["GET", "POST"]),
    ]
