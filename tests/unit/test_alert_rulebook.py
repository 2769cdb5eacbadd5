"""The alert rules file: a valid file tunes the rules, a function's own table overrides
its rule's, and every mistake is refused at start-up naming the file, the line, the key
or value and what is expected (the nearest name for a misspelt one)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from inlet.alerts.rulebook import load, parse, rules_of
from inlet.alerts.rules import Failing, Late, NoRuns, Rules
from inlet.config import Settings
from inlet.errors import ConfigError
from inlet.server import create_app

VALID = """\
# Tighter than the defaults for a shop.
interval = "30s"

[rules."function.failing"]
runs = 20
max_success_rate = 0.5
first_runs = 5

[rules."function.failing".functions."shop-nightly"]
enabled = false

[rules."function.failing".functions."shop-charge"]
window = "1h"
min_runs = 4

[rules."queue.late"]
after = 120

[rules."app.unreachable"]
after = "2m"

[rules."run.no_progress"]
after = "2h30m"

[rules."run.no_progress".functions."shop-export"]
after = "6h"

[rules."events.no_runs"]
window = "15m"
min_events = 3
"""


def test_no_file_keeps_the_defaults() -> None:
    rules = rules_of(None)
    assert rules == Rules()
    assert rules.failing == Failing(runs=10, max_success_rate=0.0, first_runs=3)
    assert (rules.app_unreachable.after, rules.no_progress.after) == (300.0, 3600.0)
    assert rules_of(None, 2.5).interval == 2.5


def test_a_valid_file_tunes_each_rule_and_a_functions_own_table_overrides_its_rules() -> None:
    rules = parse(VALID, "alerts.toml")

    assert rules.interval == 30.0
    assert rules.failing == Failing(runs=20, max_success_rate=0.5, first_runs=5)
    assert rules.queue_late == Late(after=120.0)
    assert rules.app_unreachable == Late(after=120.0)
    assert rules.no_progress == Late(after=9000.0)
    assert rules.no_runs == NoRuns(window=900.0, min_events=3)

    assert not rules.failing_for("shop-nightly").enabled
    assert not rules.enabled("function.failing", "shop-nightly")
    charge = rules.failing_for("shop-charge")
    assert (charge.window, charge.min_runs, charge.max_success_rate) == (3600.0, 4, 0.5)
    assert rules.failing_for("shop-other") == rules.failing
    assert rules.no_progress_for("shop-export").after == 6 * 3600.0
    assert rules.no_progress_for("shop-charge").after == 9000.0


def test_a_rule_is_turned_off_with_enabled_false() -> None:
    rules = parse('[rules."queue.late"]\nenabled = false\n', "r.toml")
    assert not rules.queue_late.enabled
    assert not rules.enabled("queue.late", "queue")
    assert rules.enabled("app.unreachable", "http://a")


def refused(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse(text, "alerts.toml")
    return caught.value.message


def test_a_toml_syntax_error_names_the_file_and_the_line() -> None:
    message = refused('[rules."queue.late"]\nafter "5m"\n')
    assert "alert rules file 'alerts.toml' is not valid TOML" in message
    assert "line 2" in message


def test_an_unknown_rule_names_its_line_and_the_nearest_rule() -> None:
    message = refused('interval = 10\n\n[rules."function.failed"]\nruns = 5\n')
    assert message.startswith("alert rules file 'alerts.toml', line 3: unknown rule")
    assert "'function.failed'" in message
    assert "did you mean 'function.failing'?" in message


def test_an_unknown_key_names_its_line_its_table_and_the_nearest_key() -> None:
    message = refused(VALID.replace("first_runs = 5", "first_run = 5"))
    assert "line 7: unknown key 'first_run'" in message
    assert '[rules."function.failing"]' in message
    assert "did you mean 'first_runs'?" in message


def test_an_unknown_key_in_a_functions_table_names_its_line() -> None:
    message = refused(VALID.replace("min_runs = 4", "min_run = 4"))
    assert "line 14: unknown key 'min_run'" in message
    assert '[rules."function.failing".functions.shop-charge]' in message


def test_an_unknown_top_level_key_names_its_line() -> None:
    message = refused('intervall = "10s"\n')
    assert "line 1: unknown key 'intervall'; did you mean 'interval'?" in message


@pytest.mark.parametrize(
    ("line", "bad", "expected"),
    [
        (5, "runs = 0", "expected a whole number of runs, 1 or more"),
        (5, 'runs = "ten"', "expected a whole number of runs"),
        (6, "max_success_rate = 1.5", "expected a success rate from 0 up to"),
        (17, 'after = "soon"', "expected a duration"),
        (17, "after = -5", "expected a duration"),
        (10, 'enabled = "no"', "expected true or false"),
    ],
)
def test_a_bad_value_names_its_line_key_value_and_what_is_expected(
    line: int, bad: str, expected: str
) -> None:
    key = bad.split(" = ")[0]
    originals = {
        "runs": "runs = 20",
        "max_success_rate": "max_success_rate = 0.5",
        "after": "after = 120",
        "enabled": "enabled = false",
    }
    message = refused(VALID.replace(originals[key], bad, 1))
    assert f"alert rules file 'alerts.toml', line {line}: " in message
    assert f"{bad} is not valid" in message
    assert expected in message


def test_first_runs_beyond_runs_is_refused_at_its_line() -> None:
    message = refused('[rules."function.failing"]\nruns = 5\nfirst_runs = 6\n')
    assert 'line 3: [rules."function.failing"] first_runs = 6 is not valid' in message
    assert "first_runs (6) at most runs (5)" in message


def test_a_functions_table_on_a_rule_without_functions_is_an_unknown_key() -> None:
    message = refused('[rules."queue.late".functions."x"]\nafter = 5\n')
    assert "line 1: unknown key 'functions'" in message


def test_a_missing_file_names_the_flag_and_its_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=re.escape("--alert-rules")) as caught:
        load(str(tmp_path / "nope.toml"))
    assert "INLET_ALERT_RULES" in caught.value.message


def test_the_server_is_not_built_on_a_bad_rules_file(tmp_path: Path) -> None:
    path = tmp_path / "alerts.toml"
    path.write_text('[rules."run.no_progress"]\nafter = "an hour"\n')
    settings = Settings(database_url="memory://", discovery=False, alert_rules=str(path))
    with pytest.raises(ConfigError, match=re.escape(f"{str(path)!r}, line 2")):
        create_app(settings)


def test_a_non_positive_alert_interval_is_refused_naming_the_flag() -> None:
    with pytest.raises(ConfigError, match="--alert-interval 0"):
        Settings(alert_interval=0).validate()
