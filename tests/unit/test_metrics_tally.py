"""A committed write's skips are counted per function and reason label, whatever their
number: an ingest of 100 events that each skip nine functions counts 100 for each."""

from __future__ import annotations

from inlet.metrics import Metrics, Tally

EXPRESSION = "the trigger's expression was not true: event.data.fn == {k}"


def _skips(metrics: Metrics, function: str, reason: str) -> float | None:
    return metrics.registry.get_sample_value(
        "inlet_flow_skips_total", {"function": function, "reason": reason}
    )


def test_many_skips_of_one_write_count_once_each() -> None:
    metrics = Metrics()
    tally = Tally()
    for _ in range(100):
        for k in range(1, 10):
            tally.skip(f"listen-{k}", EXPRESSION.format(k=k))
    tally.skip("listen-1", "function paused")
    tally.skip("listen-2", "function paused", 5)  # a set of five events
    metrics.record(tally)
    metrics.record(tally)  # a second write adds to the same series
    for k in range(1, 10):
        assert _skips(metrics, f"listen-{k}", "expression") == 200
    assert _skips(metrics, "listen-1", "paused") == 2
    assert _skips(metrics, "listen-2", "paused") == 10
    assert _skips(metrics, "listen-0", "expression") is None
