"""JSON responses and the shapes of Inngest's REST API v1 (docs/protocol.md §1.4)."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.responses import Response

from inlet import __version__
from inlet.config import Settings
from inlet.model import App, Attempt, Event, Function, Run, RunStatus, folded_meta
from inlet.runs.why import Why
from inlet.store.queries import Bucket, EventDetail, FunctionStats, Page


def json_response(value: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(value), status_code=status, media_type="application/json")


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def wrapped(data: Any, now: float, **metadata: Any) -> Response:
    """``{"data", "metadata"}``, the envelope of every ``/v1`` answer; ``metadata`` adds
    fields such as a page's ``next_cursor``."""
    meta = {"fetched_at": iso(now), "cached_until": None, **metadata}
    return json_response({"data": data, "metadata": meta})


def page_v1(page: Page, now: float) -> Response:
    """A page of runs; ``metadata.next_cursor`` asks for the next (None: this is the last);
    an expression search adds ``metadata.searched``, the runs it looked at."""
    extra = {"searched": page.searched} if page.searched else {}
    return wrapped([run_v1(r) for r in page.runs], now, next_cursor=page.next, **extra)


def counts_v1(counts: dict[RunStatus, int], statuses: tuple[RunStatus, ...]) -> dict[str, Any]:
    """Every status asked for (all of them if none was), zeros included, and their sum."""
    shown = {s.value: counts.get(s, 0) for s in (statuses or tuple(RunStatus))}
    return {"total": sum(shown.values()), "statuses": shown}


def _bucket_v1(bucket: Bucket) -> dict[str, Any]:
    def ms(seconds: float | None) -> float | None:
        return None if seconds is None else round(seconds * 1000, 3)

    return {
        "start": iso(bucket.start),
        "counts": {s.value: bucket.counts.get(s, 0) for s in RunStatus},
        "success_rate": bucket.success_rate,
        "p50_ms": ms(bucket.p50),
        "p95_ms": ms(bucket.p95),
    }


def stats_v1(
    slug: str, stats: FunctionStats | None, since: float, until: float, width: float
) -> dict[str, Any]:
    """One function's statistics; a function without runs in the window (``stats`` None)
    still gets its empty buckets, so a chart needs no special case."""
    if stats is None:
        starts = range(math.ceil((until - since) / width))
        stats = FunctionStats(slug, Bucket(since), tuple(Bucket(since + i * width) for i in starts))
    return {
        "function_id": slug,
        "since": iso(since),
        "until": iso(until),
        "bucket_seconds": width,
        "total": _bucket_v1(stats.total),
        "buckets": [_bucket_v1(b) for b in stats.buckets],
    }


def run_v1(run: Run) -> dict[str, Any]:
    status = run.status.v1_name if run.status.ended else "Running"
    return {
        "run_id": run.id,
        "run_started_at": iso(run.started_at or run.created_at),
        "ended_at": iso(run.ended_at),
        "status": status,
        "output": run.output,
        "function_id": run.function_slug,
        "function_version": 1,
        "environment_id": "local",
        "event_id": run.event_ids[0] if run.event_ids else None,
        "batch_id": None,
        "original_run_id": None,
        "cron": None,
        "inlet": {
            "status": run.status.value,
            "error": run.error,
            "created_at": iso(run.created_at),
            "steps": run.step_count,
        },
    }


def event_detail_v1(detail: EventDetail, why: Why) -> dict[str, Any]:
    """The v1 event plus Inlet's own addition under ``inlet``: the runs it started, the
    functions it matched but did not start and why not, and ``functions``: a verdict for
    every function listening to its name ("why didn't it run?"), or ``note`` when none
    does."""
    body = event_v1(detail.event)
    body["inlet"] = {
        "runs": [
            {"run_id": r.id, "function_id": r.function_slug, "status": r.status.v1_name}
            for r in detail.runs
        ],
        "skipped": [{"function_id": s.function_slug, "reason": s.reason} for s in detail.skips],
        "functions": [
            {
                "function_id": v.function_slug,
                "outcome": v.outcome,
                "reason": v.reason,
                "run_ids": list(v.run_ids),
            }
            for v in why.verdicts
        ],
        "note": why.note,
    }
    return body


def event_v1(event: Event) -> dict[str, Any]:
    return {
        "internal_id": event.internal_id,
        "accountID": None,
        "environmentID": None,
        "source": None,
        "sourceID": None,
        "receivedAt": iso(event.received_at),
        "id": event.id,
        "name": event.name,
        "data": event.data,
        "user": event.user,
        "ts": event.ts,
        "v": event.v,
        "meta": None if event.meta is None else folded_meta(event.meta),
    }


def attempt_v1(a: Attempt) -> dict[str, Any]:
    return {
        "item_id": a.item_id,
        "step_id": a.step_id,
        "op_step": a.op_step,
        "name": a.name,
        "attempt": a.attempt,
        "started_at": iso(a.started_at),
        "ended_at": iso(a.ended_at),
        "duration_ms": round((a.ended_at - a.started_at) * 1000, 3),
        "due_at": iso(a.due_at),
        "queue_delay_ms": (
            None if a.due_at is None else round(max(0.0, a.started_at - a.due_at) * 1000, 3)
        ),
        "outcome": a.outcome,
        "status_code": a.status_code,
        "output": a.output,
        "error": a.error,
    }


def dev_info(settings: Settings, apps: list[App], functions: list[Function]) -> dict[str, Any]:
    """``GET /dev`` in the shape of ``inngest dev``'s InfoResponse: the registered
    functions (as the SDKs sent them, with ``slug`` the composite id and ``id`` a UUID
    derived from it) and one handler per app."""
    by_app: dict[str, list[str]] = {}
    for fn in functions:
        by_app.setdefault(fn.app_url, []).append(fn.slug)
    return {
        "version": f"inlet {__version__}",
        "authed": False,
        "startOpts": {
            "sdkURLs": list(settings.sdk_urls),
            "poll": True,
            "pollInterval": settings.poll_interval,
            "noDiscovery": not settings.discovery,
            "retryInterval": settings.retry_interval,
        },
        "functions": [
            {
                **fn.config,
                "id": str(uuid.uuid5(uuid.NAMESPACE_URL, fn.slug)),
                "slug": fn.slug,
                "name": fn.name,
                "appURL": fn.app_url,
            }
            for fn in sorted(functions, key=lambda f: f.slug)
        ],
        "handlers": [
            {
                "url": app.url,
                "appID": app.app_id,
                "sdk": {"version": app.sdk, "framework": app.framework},
                "functions": sorted(by_app.get(app.url, [])),
                "error": app.error,
                "syncedAt": iso(app.synced_at) if app.synced_at else None,
            }
            for app in apps
        ],
        "isSingleNodeService": True,
        "isMissingSigningKey": settings.profile == "start" and not settings.signing_key,
        "isMissingEventKeys": settings.profile == "start" and not settings.event_keys,
        "features": {},
    }
