from __future__ import annotations

from typing import Any

import pytest

from inlet.flow.config import FlowConfig
from inlet.flow.idempotency import idempotency_key
from inlet.flow.keys import (
    batch_key,
    concurrency_keys,
    debounce_key,
    digest,
    key_text,
    rate_limit_key,
    singleton_key,
    throttle_key,
)


def event(**data: Any) -> dict[str, Any]:
    return {"name": "app/e", "data": data, "id": "e1", "ts": 1, "user": {}}


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("abc", "abc"),
        (7, "7"),
        (7.0, "7"),
        (1.5, "1.5"),
        (True, "true"),
        (False, "false"),
        (None, "false"),
        ({"b": 1, "a": [1, "x"]}, '{"a":[1,"x"],"b":1}'),
    ],
)
def test_a_key_value_has_one_canonical_text(value: Any, text: str) -> None:
    assert key_text(value) == text


def test_a_number_and_its_string_share_a_key_as_with_gos_percent_v() -> None:
    assert digest(1) == digest("1") == digest(1.0)


def test_the_function_wide_limit_is_keyed_by_the_function() -> None:
    cfg = FlowConfig.parse({"concurrency": 2})

    assert concurrency_keys(cfg, "app-fn", event()) == (("fn:app-fn", 2),)


def test_a_keyed_fn_limit_gives_each_value_its_own_key() -> None:
    cfg = FlowConfig.parse({"concurrency": [{"limit": 1, "key": "event.data.user"}]})

    (a,) = concurrency_keys(cfg, "app-fn", event(user="a"))
    (b,) = concurrency_keys(cfg, "app-fn", event(user="b"))

    assert a == (f"fn:app-fn:{digest('a')}", 1)
    assert b[0] != a[0]


def test_an_env_scoped_key_is_shared_by_functions_evaluating_to_the_same_value() -> None:
    one = FlowConfig.parse({"concurrency": [{"limit": 3, "key": "event.data.org", "scope": "env"}]})
    two = FlowConfig.parse(
        {"concurrency": [{"limit": 3, "key": "event.data.team", "scope": "env"}]}
    )

    assert concurrency_keys(one, "app-one", event(org="x"), env="prod") == concurrency_keys(
        two, "app-two", event(team="x"), env="prod"
    )
    assert concurrency_keys(one, "app-one", event(org="x"), env="prod")[0][0].startswith(
        "env:prod:"
    )


def test_an_account_scoped_key_is_keyed_by_the_account() -> None:
    cfg = FlowConfig.parse({"concurrency": [{"limit": 3, "key": "'openai'", "scope": "account"}]})

    assert concurrency_keys(cfg, "app-fn", event(), account="acme") == (
        (f"account:acme:{digest('openai')}", 3),
    )


def test_two_limits_give_two_keys_smallest_limit_first() -> None:
    cfg = FlowConfig.parse({"concurrency": [{"limit": 9}, {"limit": 2, "key": "event.data.u"}]})

    assert concurrency_keys(cfg, "f", event(u=1)) == ((f"fn:f:{digest(1)}", 2), ("fn:f", 9))


def test_two_limits_landing_on_one_key_keep_the_smaller_limit() -> None:
    cfg = FlowConfig.parse(
        {"concurrency": [{"limit": 4, "key": "event.data.a"}, {"limit": 2, "key": "event.data.b"}]}
    )

    assert concurrency_keys(cfg, "f", event(a="x", b="x")) == ((f"fn:f:{digest('x')}", 2),)


def test_a_key_that_fails_to_evaluate_is_the_false_key_shared_by_all_such_events() -> None:
    cfg = FlowConfig.parse({"concurrency": [{"limit": 1, "key": "event.data.missing"}]})

    assert concurrency_keys(cfg, "f", event()) == ((f"fn:f:{digest(False)}", 1),)


def test_throttle_is_per_function_and_per_key_value() -> None:
    cfg = FlowConfig.parse({"throttle": {"limit": 1, "period": "1s", "key": "event.data.k"}})

    assert throttle_key(cfg, "f", event(k="a")) == f"throttle:f:{digest('a')}"
    assert throttle_key(cfg, "g", event(k="a")) != throttle_key(cfg, "f", event(k="a"))
    assert throttle_key(FlowConfig(), "f", event()) is None


def test_an_unkeyed_gate_uses_one_key_per_function() -> None:
    cfg = FlowConfig.parse(
        {
            "throttle": {"limit": 1, "period": "1s"},
            "rateLimit": {"limit": 1, "period": "1s"},
            "debounce": {"period": "1s"},
            "singleton": {"mode": "skip"},
        }
    )

    assert throttle_key(cfg, "f", event()) == "throttle:f"
    assert rate_limit_key(cfg, "f", event()) == "ratelimit:f"
    assert debounce_key(cfg, "f", event()) == "debounce:f"
    assert singleton_key(cfg, "f", event()) == "singleton:f"


def test_an_event_whose_rate_limit_key_is_false_or_missing_is_not_rate_limited() -> None:
    cfg = FlowConfig.parse({"rateLimit": {"limit": 1, "period": "1h", "key": "event.data.k"}})

    assert rate_limit_key(cfg, "f", event(k=False)) is None
    assert rate_limit_key(cfg, "f", event()) is None
    assert rate_limit_key(cfg, "f", event(k="a")) == f"ratelimit:f:{digest('a')}"


def test_an_event_whose_singleton_key_is_false_is_no_singleton() -> None:
    cfg = FlowConfig.parse({"singleton": {"key": "event.data.k == 'x'"}})

    assert singleton_key(cfg, "f", event(k="y")) is None
    assert singleton_key(cfg, "f", event(k="x")) == f"singleton:f:{digest(True)}"


def test_debounce_and_batch_keys_group_events_by_value() -> None:
    cfg = FlowConfig.parse(
        {
            "debounce": {"period": "1s", "key": "event.data.k"},
            "batchEvents": {"maxSize": 2, "timeout": "1s", "key": "event.data.k"},
        }
    )

    assert debounce_key(cfg, "f", event(k=1)) == debounce_key(cfg, "f", event(k="1"))
    assert batch_key(cfg, "f", event(k=1)) != batch_key(cfg, "f", event(k=2))
    assert batch_key(FlowConfig(), "f", event()) is None


def test_the_idempotency_key_is_per_function_and_value() -> None:
    cfg = FlowConfig.parse({"idempotency": "event.data.order"})

    assert idempotency_key(cfg, "f", event(order=42)) == f"idempotency:f:{digest(42)}"
    assert idempotency_key(cfg, "g", event(order=42)) != idempotency_key(cfg, "f", event(order=42))


def test_no_idempotency_key_applies_without_the_option_or_a_value() -> None:
    cfg = FlowConfig.parse({"idempotency": "event.data.order"})

    assert idempotency_key(FlowConfig(), "f", event(order=1)) is None
    assert idempotency_key(cfg, "f", event()) is None
    assert idempotency_key(cfg, "f", event(order=False)) is None
