"""``docs/metrics.md`` lists exactly the series ``/metrics`` serves, with their type, and
every value a fixed label can take: a series added without its line, or a line left for a
series gone, fails here."""

from __future__ import annotations

import re
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from inlet.alerts.rules import RULES
from inlet.metrics import DELAY_REASONS, SKIP_REASONS
from inlet.store.waiting import WAIT_KINDS
from inlet.testing import Context, FakeClock, FakeSDK, InletTest

DOC = Path(__file__).parents[2] / "docs" / "metrics.md"
ROW = re.compile(r"^\| `(inlet_[a-z_]+)` \| (counter|gauge|histogram) \|", re.MULTILINE)


def documented() -> dict[str, str]:
    return dict(ROW.findall(DOC.read_text()))


async def served() -> dict[str, str]:
    clock = FakeClock(1_800_000_000.0)
    sdk = FakeSDK("d", clock=clock)

    @sdk.function("f", event="d/f")
    async def f(ctx: Context) -> int:
        return 1

    async with InletTest(sdk, clock=clock) as inlet:
        reply = await inlet.http.get("/metrics")
    families = text_string_to_metric_families(reply.text)
    return {
        family.name: family.type
        for family in families
        if not family.name.endswith("_created")  # prometheus-client's, said once in the doc
    }


async def test_every_series_served_is_documented_with_its_type_and_no_other() -> None:
    # The parser names a counter without its _total, as the doc does not.
    expected = {
        (name + "_total" if kind == "counter" else name): kind
        for name, kind in (await served()).items()
    }
    assert documented() == expected


def test_every_value_of_a_fixed_label_is_documented() -> None:
    text = DOC.read_text()
    values = [
        *(label for _, label in SKIP_REASONS),
        "other",
        *DELAY_REASONS,
        *WAIT_KINDS,
        *RULES,
        "completed",
        "failed",
        "cancelled",
    ]
    for value in values:
        assert f"`{value}`" in text, value
