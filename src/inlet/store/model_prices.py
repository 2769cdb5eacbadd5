"""The ``estimated_cost`` of ``inngest.ai`` metadata: US dollars for a model call's tokens,
which Inngest's dev server adds from its own price table and the TS SDK's suite expects.

Inlet's table is its own and deliberately small: the models its tests and the SDK suite
name, priced per million tokens (input, output). The OpenAI rows are OpenAI's published
list prices for the GPT-5 and GPT-4o families; ``gpt-5.4-nano`` (the model the SDK suite's
simulated span names) is given GPT-5 nano's price, an assumption rather than a published
figure. A model not in the table gets no estimate. Add a row here to price another model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from inlet.model import JSON

PER_MILLION: Final[Mapping[str, tuple[float, float]]] = {
    "gpt-5": (1.25, 10.0),
    "gpt-5-mini": (0.25, 2.0),
    "gpt-5-nano": (0.05, 0.40),
    "gpt-5.4-nano": (0.05, 0.40),
    "gpt-4o": (2.50, 10.0),
    "gpt-4o-mini": (0.15, 0.60),
}
"""USD per million (input, output) tokens, by model name in lower case."""

AI_KIND: Final = "inngest.ai"


def price_of(model: str) -> tuple[float, float] | None:
    """The row for ``model``: its own, or that of the longest name it extends with ``-``
    (``gpt-5.4-nano-2026-03-17`` is priced as ``gpt-5.4-nano``); a provider prefix such as
    ``openai/`` is ignored."""
    name = model.lower().rsplit("/", 1)[-1]
    best = None
    for known in PER_MILLION:
        if (name == known or name.startswith(known + "-")) and (
            best is None or len(known) > len(best)
        ):
            best = known
    return PER_MILLION[best] if best is not None else None


def estimated_cost(values: Mapping[str, JSON]) -> float | None:
    """The cost of the tokens ``values`` count, priced by the response model (the one that
    answered) or else the requested one; ``None`` without a known model or any tokens."""
    inputs, outputs = _count(values.get("input_tokens")), _count(values.get("output_tokens"))
    if inputs is None and outputs is None:
        return None
    for field in ("response_model", "request_model"):
        model = values.get(field)
        if isinstance(model, str) and (price := price_of(model)) is not None:
            return ((inputs or 0) * price[0] + (outputs or 0) * price[1]) / 1_000_000
    return None


def with_estimated_cost(kind: str, values: dict[str, JSON], sent: Mapping[str, JSON]) -> None:
    """Adds ``estimated_cost`` to ``inngest.ai`` values, unless the update (``sent``) gave
    its own: recomputed from the tokens the values now count, so a merge that adds tokens
    is priced whole."""
    if kind != AI_KIND or sent.get("estimated_cost") is not None:
        return
    cost = estimated_cost(values)
    if cost is not None:
        values["estimated_cost"] = cost


def _count(raw: JSON) -> int | None:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return None
    return int(raw)
