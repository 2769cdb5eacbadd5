"""The stall rules decide from values alone: a function's quiet runs, what the oldest last
did; the events a function skipped in a window, and whether a run has started since."""

from __future__ import annotations

from inlet.alerts.rules import Clear, Fire, Late, NoRuns
from inlet.alerts.stalls import no_progress, no_runs
from inlet.model import Attempt, Function, Run, RunStatus
from inlet.store.stalls import Pending, QuietRun, SkipTally

NOW = 1_800_000_000.0
FN = Function("shop-export", "http://127.0.0.1:3000/api/inngest", "export", "", ())
HOUR = Late(after=3600)
TEN_MINUTES = NoRuns(window=600)


def quiet(n: int, last_at: float, pending: Pending = "due") -> QuietRun:
    run = Run(f"01RUN{n:021d}", FN.slug, (), RunStatus.RUNNING, NOW - 7200)
    return QuietRun(run, last_at, pending)


def test_the_oldest_quiet_run_is_named_with_what_it_last_did() -> None:
    runs = [quiet(1, NOW - 5400, "parked"), quiet(2, NOW - 3700)]
    last = Attempt(
        runs[0].run.id,
        "i",
        "s1",
        1,
        NOW - 5410,
        NOW - 5400,
        "failed",
        name="upload",
        error="TimeoutError: the bucket did not answer\nTraceback ...",
    )
    fired = no_progress(FN.slug, FN, runs, last, NOW, HOUR, "http://inlet:8288")

    assert isinstance(fired, Fire) and fired.subject == FN.slug
    summary = fired.summary
    assert summary["run_url"] == f"http://inlet:8288/ui/runs/{runs[0].run.id}"
    assert summary["app"] == FN.app_url and summary["quiet_runs"] == 2
    doing = str(summary["doing"])
    assert "step 'upload', attempt 2) ended failed" in doing
    assert "TimeoutError: the bucket did not answer" in doing and "Traceback" not in doing
    assert "parked, waiting for a concurrency slot" in doing
    assert "no progress for 1h30m, more than 1h:" in str(summary["message"])
    assert "(and 1 more of its runs)" in str(summary["message"])


def test_no_quiet_run_clears() -> None:
    assert no_progress(FN.slug, FN, [], None, NOW, HOUR, "") == Clear("run.no_progress", FN.slug)


def skipped(count: int, reason: str = "function paused", name: str = "shop/order") -> SkipTally:
    return SkipTally(FN.slug, name, reason, count, NOW - 300, NOW - 10)


def test_skipped_events_and_no_run_in_the_window_fire_with_the_count_and_reasons() -> None:
    tally = [skipped(3), skipped(2, "rate limit: 1 per 1h")]
    fired = no_runs(FN.slug, FN, tally, NOW - 601, None, NOW, TEN_MINUTES, "connection refused")

    assert isinstance(fired, Fire)
    assert fired.summary["events"] == 5 and fired.summary["event"] == "shop/order"
    assert fired.summary["reasons"] == {"function paused": 3, "rate limit: 1 per 1h": 2}
    message = str(fired.summary["message"])
    assert message.startswith("export: 5 events 'shop/order' in the last 10m started no run")
    assert message.endswith("its app's last sync failed: connection refused")


def test_a_run_in_the_window_or_too_few_events_is_no_alert() -> None:
    assert no_runs(FN.slug, FN, [skipped(3)], NOW - 100, None, NOW, TEN_MINUTES) is None
    assert no_runs(FN.slug, FN, [skipped(1)], None, None, NOW, NoRuns(min_events=2)) is None
    assert no_runs(FN.slug, FN, [], None, None, NOW, TEN_MINUTES) is None


def test_skipped_inngest_events_are_never_news() -> None:
    handler = [skipped(9, "the trigger's expression was not true", "inngest/function.failed")]
    assert no_runs(FN.slug, FN, handler, None, None, NOW, TEN_MINUTES) is None


def test_a_firing_alert_clears_once_a_run_started_after_it_fired() -> None:
    fired_at = NOW - 3600
    tally = [skipped(3)]
    assert no_runs(FN.slug, FN, tally, NOW - 7200, fired_at, NOW, TEN_MINUTES) is None
    cleared = no_runs(FN.slug, FN, tally, fired_at + 5, fired_at, NOW, TEN_MINUTES)
    assert cleared == Clear("events.no_runs", FN.slug)
