"""The embeddings example's settings, read once from the environment at start-up.

Incomplete settings stop the app before it serves anything, naming the variable and the
fix: the production incident this example replays began with a key that was never set.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

DIMENSIONS = 384
"""The vector column's width: all-MiniLM-L6-v2's output."""


class ConfigError(Exception):
    """The example's settings are incomplete or wrong; the message names the variable."""


@dataclass(frozen=True)
class HostedModel:
    """An OpenAI-compatible embeddings endpoint (``POST {url}/embeddings``)."""

    url: str
    key: str
    model: str


@dataclass(frozen=True)
class Config:
    database: str
    """A SQLite file path (sqlite-vec), or a postgresql:// URL (pgvector)."""
    hosted: HostedModel | None
    """None: the local model (all-MiniLM-L6-v2, int8 ONNX, on the CPU)."""
    dimensions: int = DIMENSIONS


def _required(env: Mapping[str, str], name: str, why: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(f"{name} is not set: {why}")
    return value


def load(env: Mapping[str, str] = os.environ) -> Config:
    """Read every setting, or raise ConfigError naming the first one missing or wrong."""
    database = _required(
        env,
        "EMBEDDINGS_DATABASE",
        "set it to a SQLite file path (e.g. .inlet/embeddings.db) or a postgresql:// URL",
    )
    if env.get("INNGEST_DEV", "").strip() in ("", "0", "false"):
        for name in (
            "INNGEST_SIGNING_KEY",
            "INNGEST_EVENT_KEY",
            "INNGEST_API_BASE_URL",
            "INNGEST_EVENT_API_BASE_URL",
        ):
            _required(
                env,
                name,
                "without INNGEST_DEV the SDK runs in production mode and needs "
                "INNGEST_SIGNING_KEY, INNGEST_EVENT_KEY, INNGEST_API_BASE_URL and "
                "INNGEST_EVENT_API_BASE_URL (the inlet start URL); or set INNGEST_DEV to "
                "the inlet dev URL",
            )
    provider = env.get("EMBEDDINGS_PROVIDER", "local").strip() or "local"
    if provider == "local":
        return Config(database=database, hosted=None)
    if provider != "hosted":
        raise ConfigError(
            f"EMBEDDINGS_PROVIDER={provider!r} is not a provider; expected local or hosted"
        )
    why = "EMBEDDINGS_PROVIDER=hosted needs EMBEDDINGS_API_URL, EMBEDDINGS_API_KEY and "
    why += "EMBEDDINGS_API_MODEL (an OpenAI-compatible /embeddings endpoint)"
    hosted = HostedModel(
        url=_required(env, "EMBEDDINGS_API_URL", why).rstrip("/"),
        key=_required(env, "EMBEDDINGS_API_KEY", why),
        model=_required(env, "EMBEDDINGS_API_MODEL", why),
    )
    return Config(database=database, hosted=hosted)
