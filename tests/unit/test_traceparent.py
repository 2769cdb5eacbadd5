"""Call requests carry a W3C ``traceparent``: TS v4 sends ``inngest.ai`` step metadata
only for an execution whose request had one."""

from __future__ import annotations

from inlet.protocol.traceparent import traceparent


def test_a_call_carries_a_w3c_traceparent_one_trace_per_run() -> None:
    first, again, other = traceparent("R", "I-0"), traceparent("R", "I-0"), traceparent("R", "J-0")
    version, trace_id, span_id, flags = first.split("-")
    assert (version, flags, len(trace_id), len(span_id)) == ("00", "01", 32, 16)
    assert int(trace_id, 16) and int(span_id, 16)
    assert first == again and other.split("-")[1] == trace_id and other != first
