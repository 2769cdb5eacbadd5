"""The default alert rules decide from values alone, with the time as a parameter."""

from __future__ import annotations

import re

import pytest

from inlet.alerts.deliver import backoff, is_slack, url_of
from inlet.alerts.rules import (
    Clear,
    Failing,
    Fire,
    Late,
    failing_function,
    failing_in_window,
    first_line,
    queue_late,
    unreachable_app,
)
from inlet.config import Settings
from inlet.errors import ConfigError
from inlet.model import App, Function, Run, RunStatus
from inlet.store.queries import QueueStats

NOW = 1_800_000_000.0
FN = Function(
    slug="app-charge",
    app_url="http://127.0.0.1:3000/api/inngest",
    name="Charge",
    url="http://127.0.0.1:3000/api/inngest?fnId=app-charge&stepId=step",
    triggers=(),
)
ERROR = {"name": "KeyError", "message": "'STRIPE_KEY'\nTraceback ..."}


def runs(*statuses: RunStatus) -> list[Run]:
    return [
        Run(
            id=f"01RUN{n:021d}",
            function_slug=FN.slug,
            event_ids=(),
            status=status,
            created_at=NOW - n,
            error=ERROR if status == RunStatus.FAILED else None,
        )
        for n, status in enumerate(statuses)
    ]


def test_ten_failed_runs_in_a_row_fire_with_the_function_app_error_and_run_link() -> None:
    decision = failing_function(FN, runs(*[RunStatus.FAILED] * 10), Failing(), "http://h:8288")

    assert isinstance(decision, Fire)
    assert decision.subject == "app-charge"
    assert decision.summary["app"] == FN.app_url
    assert decision.summary["error"] == "KeyError: 'STRIPE_KEY'"
    assert decision.summary["run_url"] == f"http://h:8288/ui/runs/{'01RUN' + '0' * 21}"


def test_one_completed_run_among_the_last_ten_does_not_fire() -> None:
    statuses = [RunStatus.FAILED] * 9 + [RunStatus.COMPLETED]
    assert not isinstance(failing_function(FN, runs(*statuses), Failing(), ""), Fire)


def test_a_success_rate_at_or_below_the_threshold_fires_and_above_it_clears() -> None:
    half = Failing(runs=4, max_success_rate=0.5)
    statuses = [RunStatus.FAILED, RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.COMPLETED]
    fired = failing_function(FN, runs(*statuses), half, "")
    assert isinstance(fired, Fire)
    assert fired.summary["success_rate"] == 0.5
    assert "succeeded at 50%" in str(fired.summary["message"])
    better = [RunStatus.COMPLETED] * 3 + [RunStatus.FAILED]
    assert failing_function(FN, runs(*better), half, "") == Clear("function.failing", FN.slug)


def test_over_a_window_the_rate_counts_the_runs_created_in_it() -> None:
    hourly = Failing(window=3600, min_runs=4, max_success_rate=0.25)
    (newest,) = runs(RunStatus.FAILED)
    counts = {RunStatus.FAILED: 3, RunStatus.COMPLETED: 1, RunStatus.RUNNING: 5}
    fired = failing_in_window(FN, counts, newest, hourly, "http://h")
    assert isinstance(fired, Fire)
    assert fired.summary["run_id"] == newest.id
    assert "created in the last 1h" in str(fired.summary["message"])
    too_few = {RunStatus.FAILED: 3}
    assert failing_in_window(FN, too_few, newest, hourly, "") is None
    assert failing_in_window(FN, {}, None, hourly, "") is None
    healthy = {RunStatus.FAILED: 1, RunStatus.COMPLETED: 3}
    assert isinstance(failing_in_window(FN, healthy, newest, hourly, ""), Clear)


def test_a_new_functions_first_runs_all_failing_fire() -> None:
    assert failing_function(FN, runs(*[RunStatus.FAILED] * 2), Failing(), "") is None
    assert isinstance(failing_function(FN, runs(*[RunStatus.FAILED] * 3), Failing(), ""), Fire)


def test_a_completed_newest_run_clears() -> None:
    decision = failing_function(FN, runs(RunStatus.COMPLETED, RunStatus.FAILED), Failing(), "")
    assert decision == Clear("function.failing", "app-charge")


def test_the_queue_is_late_when_its_oldest_due_item_waited_past_the_limit() -> None:
    stats = [QueueStats("a", due=2, oldest_due_at=NOW - 301), QueueStats("b", due=1)]

    late = queue_late(stats, NOW, Late(after=300))
    assert isinstance(late, Fire)
    assert late.summary["function"] == "a"
    assert isinstance(queue_late(stats, NOW - 2, Late(after=300)), Clear)


def test_an_app_in_error_fires_once_failing_past_its_limit_and_clears_once_synced() -> None:
    app = App(url="http://127.0.0.1:3000/api/inngest", app_id="shop", error="401: bad signature")
    five_minutes = Late(after=300)

    assert unreachable_app(app, NOW - 300, NOW, five_minutes) is None
    fired = unreachable_app(app, NOW - 301, NOW, five_minutes)
    assert isinstance(fired, Fire)
    assert fired.summary["error"] == "401: bad signature"
    assert fired.summary["failing_since"] == NOW - 301
    synced = App(url=app.url, app_id="shop")
    assert isinstance(unreachable_app(synced, None, NOW, five_minutes), Clear)


def test_first_line_takes_the_name_and_the_first_line_of_the_message() -> None:
    assert first_line(ERROR) == "KeyError: 'STRIPE_KEY'"
    assert first_line({"message": "boom"}) == "boom"
    assert first_line(None) == ""


def test_webhook_backoff_grows_and_caps_at_ten_minutes() -> None:
    assert [backoff(n) for n in (1, 2, 3, 4, 5, 50)] == [5, 30, 120, 600, 600, 600]


def test_slack_targets_are_known_by_host_or_prefix() -> None:
    assert is_slack("https://hooks.slack.com/services/T/B/X")
    assert is_slack("slack+https://chat.internal/hook")
    assert url_of("slack+https://chat.internal/hook") == "https://chat.internal/hook"
    assert not is_slack("https://example.internal/hook")


def test_an_alert_webhook_without_a_scheme_fails_at_start_naming_the_flag() -> None:
    Settings(alert_webhooks=("slack+https://chat.internal/hook", "http://127.0.0.1:9/h")).validate()
    with pytest.raises(ConfigError, match=re.escape("--alert-webhook 'hooks.slack.com/x'")):
        Settings(alert_webhooks=("hooks.slack.com/x",)).validate()


def test_the_first_runs_since_a_deploy_all_failing_fire_among_older_successes() -> None:
    # Newest first: 3 failed since the app synced at NOW - 2.5, then 7 completed before.
    statuses = [RunStatus.FAILED] * 3 + [RunStatus.COMPLETED] * 7
    deployed = NOW - 2.5
    fired = failing_function(FN, runs(*statuses), Failing(), "", synced_at=deployed)
    assert isinstance(fired, Fire)
    assert fired.summary["failed_runs"] == 3
    assert "the first 3 finished runs since its app synced at" in str(fired.summary["message"])

    assert not isinstance(failing_function(FN, runs(*statuses), Failing(), ""), Fire)
    two = [RunStatus.FAILED] * 2 + [RunStatus.COMPLETED] * 8
    assert isinstance(failing_function(FN, runs(*two), Failing(), "", synced_at=NOW - 1.5), Clear)
