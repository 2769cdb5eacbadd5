"""Reading register payloads from both SDK dialects, and rejecting bad configs clearly."""

from __future__ import annotations

import re
from typing import Any

import pytest

from inlet.errors import BadRequest, FunctionConfigInvalid
from inlet.sync.register import parse_registration

URL = "http://127.0.0.1:3000/api/inngest"


def fn(**config: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "app-fn",
        "name": "Fn",
        "triggers": [{"event": "app/x"}],
        "steps": {
            "step": {
                "id": "step",
                "name": "step",
                "runtime": {"type": "http", "url": f"{URL}?fnId=app-fn&stepId=step"},
                "retries": {"attempts": 2},
            }
        },
    }
    base.update(config)
    return base


def python_body(*functions: dict[str, Any]) -> dict[str, Any]:
    return {
        "url": f"{URL}?deployId=1",
        "deploy_type": "ping",
        "appname": "app",
        "sdk": "py:v0.5.19",
        "v": "0.1",
        "framework": "fast_api",
        "functions": list(functions),
    }


def test_the_python_dialect_is_read() -> None:
    reg = parse_registration(python_body(fn()), 1.0)
    assert reg.app.app_id == "app" and reg.app.url == URL and reg.app.framework == "fast_api"
    [function] = reg.functions
    assert function.slug == "app-fn" and function.retries == 2 and function.max_attempts == 3
    assert function.url.endswith("fnId=app-fn&stepId=step")


def test_the_typescript_dialect_is_read_case_insensitively() -> None:
    body = {
        "url": URL,
        "deployType": "ping",
        "appName": "app",
        "sdk": "js:v4.24.0",
        "functions": [fn()],
        "featureObservations": {"x": 1},
    }
    assert parse_registration(body, 1.0).app.app_id == "app"


def test_absent_retries_mean_the_default_four() -> None:
    step = fn()["steps"]["step"]
    del step["retries"]
    assert parse_registration(python_body(fn(steps={"step": step})), 1.0).functions[0].retries == 4


def test_the_checksum_changes_only_with_the_functions() -> None:
    a = parse_registration(python_body(fn()), 1.0).app.checksum
    b = parse_registration(python_body(fn()), 2.0).app.checksum
    c = parse_registration(python_body(fn(name="Other")), 1.0).app.checksum
    assert a == b != c


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"triggers": [{"event": "app/x", "expression": "event.data.n >"}]},
            "function 'app-fn': triggers[0].expression",
        ),
        (
            {"concurrency": [{"limit": 1}, {"limit": 2}, {"limit": 3}]},
            "function 'app-fn': concurrency has 3 limits; at most 2",
        ),
        (
            {"concurrency": [{"limit": 1, "scope": "env"}]},
            "concurrency[0].key is required with scope 'env'",
        ),
        (
            {"batchEvents": {"maxSize": 1, "timeout": "5s"}},
            "batchEvents.maxSize must be at least 2",
        ),
        (
            {"batchEvents": {"maxSize": 5, "timeout": "5s"}, "cancel": [{"event": "a"}]},
            "batchEvents cannot be combined with cancel",
        ),
        ({"debounce": {"period": "8d"}}, "debounce.period"),
        ({"rateLimit": {"limit": 1, "period": "25h"}}, "rateLimit.period"),
        ({"triggers": [{"event": "a"}] * 11}, "triggers has 11 entries"),
        ({"triggers": [{"cron": "* * * * *"}, {"cron": "* * * * *"}]}, "repeats the schedule"),
        ({"triggers": [{"cron": "61 * * * *"}]}, "function 'app-fn': triggers[0].cron"),
        ({"steps": {}}, "steps must hold exactly one step"),
        ({"singleton": {"mode": "queue"}}, "singleton.mode"),
    ],
)
def test_a_config_the_go_server_rejects_is_rejected_naming_function_and_field(
    config: dict[str, Any], message: str
) -> None:
    with pytest.raises(FunctionConfigInvalid, match=re.escape(message)):
        parse_registration(python_body(fn(**config)), 1.0)


def test_retries_over_twenty_are_rejected() -> None:
    step = fn()["steps"]["step"] | {"retries": {"attempts": 21}}
    with pytest.raises(FunctionConfigInvalid, match="at most 20 retries"):
        parse_registration(python_body(fn(steps={"step": step})), 1.0)


def test_a_body_without_an_app_name_is_rejected() -> None:
    with pytest.raises(BadRequest, match="appName"):
        parse_registration({"url": URL, "functions": []}, 1.0)


def test_a_function_registered_twice_is_rejected() -> None:
    with pytest.raises(FunctionConfigInvalid, match="registered twice"):
        parse_registration(python_body(fn(), fn()), 1.0)
