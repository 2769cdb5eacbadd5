"""FunctionSpec: a function's config parsed once, with errors that carry the field path."""

from __future__ import annotations

from typing import Any

import pytest

from inlet.errors import FunctionConfigInvalid
from inlet.flow.spec import DEFAULT_CANCEL_TIMEOUT, CancelOn, FunctionSpec


def test_cancel_entries_and_timeouts_are_parsed_with_their_defaults() -> None:
    spec = FunctionSpec.parse(
        {
            "id": "app-fn",
            "cancel": [
                {"event": "app/user.deleted", "if": "event.data.id == async.data.id"},
                {"event": "app/stop", "timeout": "1h"},
            ],
            "timeouts": {"start": "30s", "finish": "2m"},
            "throttle": {"limit": 2, "period": "1m"},
        }
    )
    assert spec.cancel == (
        CancelOn("app/user.deleted", "event.data.id == async.data.id", DEFAULT_CANCEL_TIMEOUT),
        CancelOn("app/stop", None, 3600.0),
    )
    assert (spec.start_timeout, spec.finish_timeout) == (30.0, 120.0)
    assert spec.flow.throttle is not None and spec.flow.throttle.limit == 2


def test_an_empty_config_has_no_flow_control_no_cancel_and_no_timeouts() -> None:
    assert FunctionSpec.parse({}) == FunctionSpec()


@pytest.mark.parametrize(
    ("config", "field", "words"),
    [
        ({"cancel": [{"event": "a", "if": "event.data.x =="}]}, "cancel[0].if", ""),
        ({"cancel": [{"event": "a", "timeout": "soon"}]}, "cancel[0].timeout", "soon"),
        ({"cancel": [{"if": "true"}]}, "cancel[0].event", "None"),
        ({"cancel": [{"event": "a"}] * 6}, "cancel", "at most 5"),
        ({"timeouts": {"finish": 10}}, "timeouts.finish", "10"),
        ({"batchEvents": {"maxSize": 5, "timeout": "0s"}}, "batchEvents.timeout", "at least 1s"),
        (
            {"batchEvents": {"maxSize": 5, "timeout": "5s"}, "debounce": {"period": "5s"}},
            "batchEvents",
            "debounce",
        ),
        ({"debounce": {"period": "0s"}}, "debounce.period", "1s to 7d"),
        ({"throttle": {"limit": 1, "period": 60}}, "throttle.period", "60"),
    ],
)
def test_a_bad_value_is_refused_naming_function_field_and_value(
    config: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(FunctionConfigInvalid) as raised:
        FunctionSpec.parse({"id": "app-fn", **config})
    assert raised.value.field == field
    assert raised.value.message.startswith(f"function 'app-fn': {field} ")
    assert words in raised.value.message
