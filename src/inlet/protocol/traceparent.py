"""The W3C ``traceparent`` header a call request carries. TS v4 attributes OpenTelemetry
spans (and the ``inngest.ai`` step metadata it lifts from ``gen_ai.*`` spans) only to an
execution whose request came with one: without it the SDK takes the request for one the
server does not trace and sends no AI metadata. Inlet keeps no traces of its own, so the
ids are derived from the run and the call, the same for a call sent again."""

from __future__ import annotations

from hashlib import blake2b


def traceparent(run_id: str, call_id: str) -> str:
    """``00-{trace id}-{span id}-01``: one trace per run, one span per call, sampled."""
    trace_id = blake2b(run_id.encode(), digest_size=16, person=b"inlet-trace").hexdigest()
    span_id = blake2b(call_id.encode(), digest_size=8, person=b"inlet-span").hexdigest()
    return f"00-{trace_id}-{span_id}-01"
