"""Seed generators: any OpenAI-compatible chat endpoint, or an offline stand-in.

The offline generator is not a language model: it recombines the prompt's own words with
fixed patterns, so that the example runs on a machine with no model and no network. The
page and README.md say so wherever its seeds appear.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from typing import Protocol

import httpx

SEEDS = 5


class Generator(Protocol):
    @property
    def label(self) -> str: ...

    async def seeds(self, prompt: str) -> list[str]: ...


@dataclass(frozen=True)
class OfflineGenerator:
    """Plainly labelled everywhere: it makes seed-shaped text without any model."""

    delay: float = 2.0
    label: str = "offline generator (no model configured: not a language model)"

    async def seeds(self, prompt: str) -> list[str]:
        # The pause stands in for a model's latency, so the page shows IN_PROGRESS.
        await asyncio.sleep(self.delay)
        words = [w for w in re.findall(r"[A-Za-z][A-Za-z'-]+", prompt) if len(w) > 3]
        topic = " ".join(words[:4]) or prompt.strip() or "the idea"
        patterns = [
            "What if {t} happened in reverse?",
            "{t}, told from the point of view of the smallest thing in it",
            "A world where {t} is forbidden",
            "{t}, a hundred years from now",
            "The one person who hates {t}, and why",
        ]
        return [p.format(t=topic) for p in patterns[:SEEDS]]


@dataclass(frozen=True)
class ChatGenerator:
    """``POST {url}/chat/completions`` asking for a JSON list of seeds."""

    url: str
    key: str
    model: str

    @property
    def label(self) -> str:
        return f"{self.model} at {self.url}"

    async def seeds(self, prompt: str) -> list[str]:
        body = {
            "model": self.model,
            "messages": [
                {
                    "role": "system",
                    "content": f"Answer with a JSON array of {SEEDS} short, distinct story "
                    "seeds (strings) for the user's prompt, and nothing else.",
                },
                {"role": "user", "content": prompt},
            ],
        }
        async with httpx.AsyncClient(timeout=60.0) as http:
            resp = await http.post(
                f"{self.url}/chat/completions",
                json=body,
                headers={"Authorization": f"Bearer {self.key}"},
            )
        resp.raise_for_status()
        content = resp.json()["choices"][0]["message"]["content"]
        seeds = json.loads(content)
        if not isinstance(seeds, list) or not all(isinstance(s, str) for s in seeds):
            raise ValueError(f"the model answered {content[:200]!r}, not a JSON list of strings")
        return seeds
