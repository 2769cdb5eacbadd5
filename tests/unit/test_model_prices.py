"""``inngest.ai`` metadata gets an ``estimated_cost`` from Inlet's own price table, as the
Inngest dev server adds one from its table."""

from __future__ import annotations

import pytest

from inlet.store.metadata import MetadataUpdate, apply
from inlet.store.model_prices import estimated_cost, price_of

CALL = {
    "operation_name": "chat",
    "request_model": "gpt-5.4-nano",
    "response_model": "gpt-5.4-nano-2026-03-17",
    "provider": "openai",
    "input_tokens": 18,
    "output_tokens": 39,
}


def test_a_dated_model_is_priced_as_the_longest_name_it_extends() -> None:
    assert price_of("gpt-5.4-nano-2026-03-17") == price_of("gpt-5.4-nano") == (0.05, 0.40)
    assert price_of("openai/GPT-5-mini") == (0.25, 2.0)
    assert price_of("gpt-5-nano-2025-08-07") == (0.05, 0.40)
    assert price_of("claude-unknown") is None and price_of("gpt-50") is None


def test_the_cost_counts_input_and_output_tokens_at_their_own_prices() -> None:
    assert estimated_cost(CALL) == pytest.approx((18 * 0.05 + 39 * 0.40) / 1_000_000)
    assert estimated_cost({**CALL, "response_model": "mystery"}) == estimated_cost(CALL)
    assert estimated_cost({"request_model": "mystery", "input_tokens": 5}) is None
    assert estimated_cost({"request_model": "gpt-4o"}) is None


def test_ai_metadata_gets_an_estimated_cost_and_a_merge_is_priced_whole() -> None:
    first = apply(None, MetadataUpdate("inngest.ai", "merge", CALL, "s"))
    assert first["estimated_cost"] == pytest.approx(estimated_cost(CALL))
    more = apply(first, MetadataUpdate("inngest.ai", "merge", {"input_tokens": 36}, "s"))
    assert more["estimated_cost"] == pytest.approx((36 * 0.05 + 39 * 0.40) / 1_000_000)


def test_a_cost_the_sdk_sent_is_kept_and_other_kinds_get_none() -> None:
    sent = apply(None, MetadataUpdate("inngest.ai", "set", {**CALL, "estimated_cost": 1.5}))
    assert sent["estimated_cost"] == 1.5
    assert "estimated_cost" not in apply(None, MetadataUpdate("custom", "set", CALL))
