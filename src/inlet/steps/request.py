"""Building the call request for a queue item (docs/protocol.md §3)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from inlet.model import JSON, Function, QueueItem, RunState
from inlet.protocol.jcs import canonical
from inlet.steps import defer, endpoint
from inlet.steps.checkpoint import dispatch_id
from inlet.steps.ops import LAZY


@dataclass(frozen=True, slots=True)
class CallRequest:
    url: str
    body: bytes
    use_api: bool


def build(
    state: RunState,
    item: QueueItem,
    function: Function,
    *,
    use_api_threshold: int,
    lease: str = "",
) -> CallRequest:
    """The canonical (JCS) body for ``item``; events and memos travel out of band
    (``use_api``) when they would make the body larger than the threshold. With the
    call's ``lease``, ``ctx`` names the dispatch so a TS v4 SDK may checkpoint its steps
    (``inlet.api.checkpoint``); without it, the SDK runs one step per request."""
    events = [e.to_wire() for e in state.events]
    steps: dict[str, JSON] = {m.step_id: m.value for m in state.memos if m.op not in LAZY}
    body = _body(state, item, function, events, steps, use_api=False, lease=lease)
    data = canonical(body)
    use_api = len(data) > use_api_threshold
    if use_api:
        # The SDK fetches /v0/runs/{id}/batch and /actions instead. ``event`` stays:
        # Python's request model requires it (docs/protocol.md §3.2).
        body = _body(state, item, function, events[:1], {}, use_api=True, lease=lease)
        body["events"] = []
        data = canonical(body)
    url = endpoint.call_url(step_url(function.url, item.step_id), function, state.events)
    return CallRequest(url=url, body=data, use_api=use_api)


def _body(
    state: RunState,
    item: QueueItem,
    function: Function,
    events: list[JSON],
    steps: dict[str, JSON],
    *,
    use_api: bool,
    lease: str,
) -> dict[str, JSON]:
    run = state.run
    stack = [m.step_id for m in state.memos if m.op not in LAZY]
    body: dict[str, JSON] = {
        "event": events[0] if events else {"name": "", "data": {}, "id": "", "ts": 0, "user": {}},
        "events": events,
        "steps": steps,
        "defers": defer.prior(state.memos),
        "ctx": {
            "run_id": run.id,
            "attempt": item.attempt,
            "max_attempts": function.max_attempts,
            "disable_immediate_execution": run.force_plan,
            "use_api": use_api,
            "stack": {"stack": stack, "current": len(stack)},
            "env": "",
            "step_id": item.step_id,
            "job_id": item.id,
        },
        "version": run.request_version,
        "use_api": use_api,
    }
    if lease:
        # Together, never one without the other: the SDK checkpoints when it sees fn_id,
        # and qi_id is the fence its checkpoints are checked against.
        ctx = body["ctx"]
        assert isinstance(ctx, dict)
        ctx["fn_id"] = function.slug
        ctx["qi_id"] = dispatch_id(item.id, lease)
    return body


@lru_cache(maxsize=4096)
def step_url(url: str, step_id: str) -> str:
    """The function's URL with ``stepId`` replaced (Go does ``values.Set``)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "stepId"]
    query.append(("stepId", step_id))
    return urlunsplit(parts._replace(query=urlencode(query)))
