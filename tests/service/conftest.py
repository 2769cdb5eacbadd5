"""The service tier: ``create_app`` in this process, with ``MemoryStore``, ``FakeClock`` and
the fake SDK of ``inlet.testing`` behind an ASGI transport. Time moves only when a test
advances the clock, so time behaviour is checked to the second without sleeping."""

from __future__ import annotations

import pytest

from inlet.testing import FakeClock

T0 = 1_800_000_000.0
"""The clock's start: a minute boundary, so cron fires fall on round offsets from it."""


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)
