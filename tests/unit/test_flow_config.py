from __future__ import annotations

from typing import Any

import pytest

from inlet.errors import FunctionConfigInvalid
from inlet.flow.config import (
    Batch,
    ConcurrencyLimit,
    Debounce,
    FlowConfig,
    Priority,
    RateLimit,
    Singleton,
    Throttle,
)

ALL_CONFIG: dict[str, Any] = {
    "id": "app-all",
    "concurrency": [{"limit": 5}, {"limit": 2, "key": "event.data.user", "scope": "env"}],
    "throttle": {"limit": 3, "period": "1m", "key": "event.data.k", "burst": 2},
    "debounce": {"period": "10s", "key": "event.data.k", "timeout": "2m"},
    "batchEvents": {"maxSize": 10, "timeout": "5s", "key": "event.data.k", "if": "event.data.b"},
    "priority": {"run": "event.data.prio"},
    "singleton": {"key": "event.data.k", "mode": "cancel"},
    "rateLimit": {"limit": 10, "period": "1h", "key": "event.data.k"},
}


def test_every_part_of_a_full_config_is_parsed_into_typed_values() -> None:
    cfg = FlowConfig.parse(ALL_CONFIG)

    assert cfg.concurrency == (
        ConcurrencyLimit(limit=2, key="event.data.user", scope="env"),
        ConcurrencyLimit(limit=5),
    )
    assert cfg.throttle == Throttle(limit=3, period=60.0, burst=2, key="event.data.k")
    assert cfg.rate_limit == RateLimit(limit=10, period=3600.0, key="event.data.k")
    assert cfg.debounce == Debounce(period=10.0, key="event.data.k", timeout=120.0)
    assert cfg.batch == Batch(
        max_size=10, timeout=5.0, key="event.data.k", condition="event.data.b"
    )
    assert cfg.priority == Priority(run="event.data.prio")
    assert cfg.singleton == Singleton(key="event.data.k", mode="cancel")
    assert cfg.idempotency is None


def test_a_config_without_flow_control_parses_to_nothing_configured() -> None:
    assert FlowConfig.parse({"id": "f", "triggers": [], "steps": {}}) == FlowConfig()


def test_null_and_empty_parts_mean_not_configured() -> None:
    raw = {key: None for key in ALL_CONFIG if key != "id"} | {"concurrency": [], "cancel": []}

    assert FlowConfig.parse(raw) == FlowConfig()


def test_a_bare_int_concurrency_is_the_function_wide_limit() -> None:
    assert FlowConfig.parse({"concurrency": 3}).concurrency == (ConcurrencyLimit(limit=3),)


def test_a_single_concurrency_object_is_one_limit() -> None:
    cfg = FlowConfig.parse({"concurrency": {"limit": 4, "key": "event.data.a"}})

    assert cfg.concurrency == (ConcurrencyLimit(limit=4, key="event.data.a"),)


def test_a_concurrency_limit_of_zero_is_unset() -> None:
    assert FlowConfig.parse({"concurrency": [{"limit": 0}]}).concurrency == ()


def test_more_than_two_concurrency_limits_are_rejected() -> None:
    with pytest.raises(FunctionConfigInvalid, match="at most 2"):
        FlowConfig.parse({"concurrency": [{"limit": 1}, {"limit": 2}, {"limit": 3}]})


@pytest.mark.parametrize("scope", ["env", "account"])
def test_a_shared_scope_without_a_key_is_rejected(scope: str) -> None:
    with pytest.raises(FunctionConfigInvalid, match="required with scope"):
        FlowConfig.parse({"concurrency": [{"limit": 1, "scope": scope}]})


def test_an_unknown_concurrency_scope_is_rejected_naming_the_choices() -> None:
    with pytest.raises(FunctionConfigInvalid, match="'fn', 'env' or 'account'"):
        FlowConfig.parse({"concurrency": [{"limit": 1, "scope": "app", "key": "event.id"}]})


def test_throttle_burst_defaults_to_zero_extra_starts_as_in_the_go_server() -> None:
    cfg = FlowConfig.parse({"throttle": {"limit": 1, "period": "5s"}})

    assert cfg.throttle == Throttle(limit=1, period=5.0, burst=0)
    assert cfg.throttle.emission == 5.0


def test_a_throttle_limit_of_zero_is_normalised_to_one() -> None:
    cfg = FlowConfig.parse({"throttle": {"limit": 0, "period": "1m"}})

    assert cfg.throttle is not None and cfg.throttle.limit == 1


def test_a_rate_limit_gets_a_tenth_of_its_limit_as_burst() -> None:
    assert RateLimit(limit=9, period=60).burst == 0
    assert RateLimit(limit=25, period=60).burst == 2


def test_a_rate_limit_period_over_a_day_is_rejected() -> None:
    with pytest.raises(FunctionConfigInvalid, match="at most 24h"):
        FlowConfig.parse({"rateLimit": {"limit": 1, "period": "25h"}})


def test_idempotency_replaces_the_rate_limit_as_in_the_go_server() -> None:
    cfg = FlowConfig.parse(
        {"idempotency": "event.data.id", "rateLimit": {"limit": 5, "period": "1m"}}
    )

    assert cfg.idempotency == "event.data.id"
    assert cfg.rate_limit is None


def test_a_debounce_without_timeout_has_none() -> None:
    cfg = FlowConfig.parse({"debounce": {"period": "1s"}})

    assert cfg.debounce == Debounce(period=1.0)


def test_a_singleton_without_mode_skips() -> None:
    assert FlowConfig.parse({"singleton": {}}).singleton == Singleton(mode="skip")


def test_a_priority_without_run_is_not_configured() -> None:
    assert FlowConfig.parse({"priority": {}}).priority is None


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"throttle": {"limit": 1, "period": 5}}, "throttle.period"),
        ({"throttle": {"limit": 1, "period": "soon"}}, "throttle.period"),
        ({"throttle": {"limit": "1", "period": "1s"}}, "throttle.limit"),
        ({"throttle": "fast"}, "throttle"),
        ({"rateLimit": {"limit": 0, "period": "1s"}}, "rateLimit.limit"),
        ({"batchEvents": {"maxSize": 1, "timeout": "1s"}}, "batchEvents.maxSize"),
        ({"debounce": {"period": "1s", "key": "event.data.("}}, "debounce.key"),
        ({"singleton": {"mode": "replace"}}, "singleton.mode"),
        ({"idempotency": 42}, "idempotency"),
        ({"concurrency": "many"}, "concurrency"),
    ],
)
def test_an_invalid_part_is_rejected_naming_the_field(raw: dict[str, Any], field: str) -> None:
    with pytest.raises(FunctionConfigInvalid) as caught:
        FlowConfig.parse({"id": "app-fn", **raw})

    assert caught.value.message.startswith(f"function 'app-fn': {field} ")
