"""What the dashboard's pages show, from the read model's values: the failure summary of
a failed run, the waterfall of its attempts, durations and the first error line, a run's
waits, a bulk operation's progress, the charts and why a function did not run."""

from __future__ import annotations

from dataclasses import replace

from inlet.model import Attempt, Event, Function, Run, RunStatus, SkipRecord, StoredMemo, Trigger
from inlet.store.operations import BulkOp, BulkState
from inlet.store.queries import Bucket, Wait
from inlet.ui import charts, views
from inlet.ui.events import why_not

T0 = 1_800_000_000.0
STACK = 'Traceback (most recent call last):\n  File "app.py", line 3\nValueError: no'


def run(status: RunStatus = RunStatus.FAILED, error: dict[str, str] | None = None) -> Run:
    error = error if error is not None else {"name": "ValueError", "message": "no", "stack": ""}
    return Run("r1", "app-fn", ("e1",), status, T0, T0 + 0.1, T0 + 3.0, error=error)


def attempt(step: str, n: int, start: float, end: float, outcome: str, error: str = "") -> Attempt:
    return Attempt(
        "r1", f"i-{step}", step, n, T0 + start, T0 + end, outcome, name=step, error=error or None
    )


def test_a_failed_run_names_the_step_whose_memo_holds_the_error_and_its_stack() -> None:
    memos = [
        StoredMemo("h1", {"data": 1}, "load", "StepRun", 1, T0 + 1),
        StoredMemo(
            "h2",
            {"error": {"name": "ValueError", "message": "no", "stack": STACK}},
            "charge",
            "StepFailed",
            2,
            T0 + 2,
        ),
    ]

    failure = views.run_failure(run(), memos, [])

    assert failure == views.Failure("charge", "ValueError", "no", STACK)


def test_without_a_step_error_the_failure_is_the_last_failed_call_or_the_function() -> None:
    calls = [attempt("charge", 0, 1, 2, "retry", "boom")]
    assert views.run_failure(run(), [], calls).step == "charge"
    discovery = [attempt("step", 0, 1, 2, "failed", "HTTP 500")]
    assert views.run_failure(run(), [], discovery).step == "the function body"


def test_each_attempt_is_a_bar_with_its_wait_apart_from_its_execution() -> None:
    bars = views.waterfall(
        run(),
        [
            attempt("load", 0, 0.0, 0.5, "step"),
            attempt("charge", 0, 1.0, 1.5, "retry", "boom"),
            attempt("charge", 1, 2.0, 3.0, "step_failed", "boom"),
        ],
        now=T0 + 10,
    )

    assert [(b.label, b.attempt, b.failed) for b in bars] == [
        ("load", 1, False),
        ("charge", 1, True),
        ("charge", 2, True),
    ]
    second = bars[1]
    # The run spans 3 s: it waited from 0.5 s to 1 s, then ran until 1.5 s.
    shape = [round(v, 1) for v in (second.wait_left, second.wait_width, second.left, second.width)]
    assert shape == [16.7, 16.7, 33.3, 16.7]
    assert (second.waited, second.took) == ("500 ms", "500 ms")


def test_a_cancel_is_a_point_in_time_and_no_failure() -> None:
    [bar] = views.waterfall(
        run(RunStatus.CANCELLED), [attempt("x", 0, 2, 2, "cancelled", "by ada")], T0
    )
    assert bar.wait_width == 0 and not bar.failed


def test_durations_read_as_a_person_would_say_them() -> None:
    assert [views.duration(s) for s in (0.0042, 3.25, 75, 3 * 3600 + 60, 3 * 86400)] == [
        "4 ms",
        "3.2 s",
        "1 min 15 s",
        "3 h 1 min",
        "3 d 0 h",
    ]


def test_the_first_error_line_carries_the_error_name_once() -> None:
    assert views.first_line(run(error={"name": "ValueError", "message": "no\nmore"})) == (
        "ValueError: no"
    )
    assert views.first_line(run(error={"error": "HTTP 500: boom"})) == "HTTP 500: boom"
    assert views.first_line(run(RunStatus.COMPLETED, error={})) == ""


def test_a_datetime_local_field_reads_as_utc_and_back() -> None:
    assert views.parse_local("2027-01-15T09:30") == 1_800_005_400.0
    assert views.local_input(1_800_005_400.0) == "2027-01-15T09:30"
    assert views.parse_local("") is None and views.parse_local("soon") is None


def test_a_wait_shows_what_it_waits_for_and_how_soon_its_deadline_is() -> None:
    wait = Wait("h1", "wait", T0 + 90, "approval", "app/approved", "async.data.ok")

    shown = views.wait_view(wait, T0)

    assert (shown.kind, shown.name, shown.left) == ("Wait for event", "approval", "in 1 min 30 s")
    assert shown.detail == "app/approved if async.data.ok"
    assert views.wait_view(Wait("h2", "sleep", T0 - 5), T0).left == "due 5.0 s ago"


def bulk(state: BulkState, done: int, total: int) -> BulkOp:
    return BulkOp(
        "b1", "replay", "app-fn", ("Failed",), None, T0, "", state, total, T0, T0, done=done
    )


def test_a_bulk_operation_shows_its_progress_and_is_whole_when_done() -> None:
    assert views.bulk_view(bulk("running", 25, 100), T0).percent == 25
    assert views.bulk_view(bulk("running", 0, 0), T0).percent == 0
    assert views.bulk_view(bulk("done", 3, 5), T0).percent == 100
    assert views.bulk_view(bulk("done", 3, 5), T0).what == "Replay Failed runs of app-fn"


def test_the_charts_draw_a_bar_per_status_and_break_a_line_where_no_run_ended() -> None:
    buckets = [
        Bucket(T0, {RunStatus.COMPLETED: 3, RunStatus.FAILED: 1}, 0.75, 1.0, 2.0),
        Bucket(T0 + 3600),
        Bucket(T0 + 7200, {RunStatus.COMPLETED: 2}, 1.0, 0.5, 0.5),
    ]

    bars = charts.runs_chart(buckets, 3600)
    rate = charts.rate_chart(buckets, 3600)

    assert bars.count('<rect class="c-ok"') == 2 and bars.count('<rect class="c-fail"') == 1
    assert "3 completed" in bars and ">4</text>" in bars
    assert rate.count("<circle") == 2 and "<polyline" not in rate
    assert "75%" in rate and "100%" in rate


def test_why_not_puts_a_recorded_skip_and_a_false_condition_before_other_listeners() -> None:
    event = Event("e1", "app/order", {"n": 1}, "e1", int(T0 * 1000))
    fns = [
        Function("a-paused", "u", "p", "u", (Trigger(event="app/order"),)),
        Function("a-big", "u", "b", "u", (Trigger(event="app/*", expression="event.data.n > 5"),)),
        Function("a-ran", "u", "r", "u", (Trigger(event="app/order"),)),
        Function("a-cron", "u", "c", "u", (Trigger(cron="0 * * * *"),)),
    ]
    skips = [SkipRecord("e1", "a-paused", "function paused")]

    found = why_not(event, fns, {"a-ran"}, skips)

    assert [(w.slug, w.matched) for w in found] == [
        ("a-big", True),
        ("a-paused", True),
        ("a-cron", False),
    ]
    assert "event.data.n > 5" in found[0].reason and found[1].reason.endswith("function paused")
    assert found[2].reason == "It is triggered by cron 0 * * * *"


def test_a_chart_of_a_window_without_runs_says_so() -> None:
    empty = [Bucket(T0 + i * 3600) for i in range(24)]

    for chart in (charts.runs_chart, charts.rate_chart, charts.duration_chart):
        drawn = chart(empty, 3600)
        assert "no runs in this window" in drawn and "<rect" not in drawn


def test_a_replay_of_skipped_events_says_so() -> None:
    op = replace(bulk("running", 0, 2), statuses=("Failed", "Skipped"))

    assert views.bulk_view(op, T0).what == "Replay Failed runs and skipped events of app-fn"
