"""When to try a failed call again (Inngest's table, docs/protocol.md §7.1)."""

from __future__ import annotations

from dataclasses import dataclass

TABLE = (15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 2400.0, 3600.0, 7200.0)
JITTER = 30.0
RETRY_AFTER_MIN = 1.0
RETRY_AFTER_MAX = 24 * 60 * 60.0


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    fixed_interval: float | None = None
    """Set by ``--retry-interval``: every retry waits exactly this long."""

    def delay(self, attempt: int, jitter: float) -> float:
        """Seconds to wait after ``attempt`` (0-based) failed; ``jitter`` is in [0, 1)."""
        if self.fixed_interval is not None:
            return self.fixed_interval
        return TABLE[min(attempt, len(TABLE) - 1)] + jitter * JITTER


def clamp_retry_after(at: float, now: float) -> float:
    return min(max(at, now + RETRY_AFTER_MIN), now + RETRY_AFTER_MAX)
