"""What the dashboard's pages show, from the read model's values: the failure summary of
a failed run, the waterfall of its attempts, durations and the first error line."""

from __future__ import annotations

from inlet.model import Attempt, Run, RunStatus, StoredMemo
from inlet.ui import views

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
