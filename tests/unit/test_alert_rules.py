"""The default alert rules decide from values alone, with the time as a parameter."""

from __future__ import annotations

import re

import pytest

from inlet.alerts.deliver import backoff, is_slack, url_of
from inlet.alerts.rules import (
    Clear,
    Fire,
    Rules,
    failing_function,
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
    decision = failing_function(FN, runs(*[RunStatus.FAILED] * 10), Rules(), "http://h:8288")

    assert isinstance(decision, Fire)
    assert decision.subject == "app-charge"
    assert decision.summary["app"] == FN.app_url
    assert decision.summary["error"] == "KeyError: 'STRIPE_KEY'"
    assert decision.summary["run_url"] == f"http://h:8288/ui/runs/{'01RUN' + '0' * 21}"


def test_one_completed_run_among_the_last_ten_does_not_fire() -> None:
    statuses = [RunStatus.FAILED] * 9 + [RunStatus.COMPLETED]
    assert failing_function(FN, runs(*statuses), Rules(), "") is None


def test_a_new_functions_first_runs_all_failing_fire() -> None:
    assert failing_function(FN, runs(*[RunStatus.FAILED] * 2), Rules(), "") is None
    assert isinstance(failing_function(FN, runs(*[RunStatus.FAILED] * 3), Rules(), ""), Fire)


def test_a_completed_newest_run_clears() -> None:
    decision = failing_function(FN, runs(RunStatus.COMPLETED, RunStatus.FAILED), Rules(), "")
    assert decision == Clear("function.failing", "app-charge")


def test_the_queue_is_late_when_its_oldest_due_item_waited_past_the_limit() -> None:
    stats = [QueueStats("a", due=2, oldest_due_at=NOW - 301), QueueStats("b", due=1)]

    late = queue_late(stats, NOW, Rules())
    assert isinstance(late, Fire)
    assert late.summary["function"] == "a"
    assert isinstance(queue_late(stats, NOW - 2, Rules()), Clear)


def test_an_app_in_error_fires_and_clears_once_synced() -> None:
    app = App(url="http://127.0.0.1:3000/api/inngest", app_id="shop", error="401: bad signature")

    fired = unreachable_app(app)
    assert isinstance(fired, Fire)
    assert fired.summary["error"] == "401: bad signature"
    assert isinstance(unreachable_app(App(url=app.url, app_id="shop")), Clear)


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
