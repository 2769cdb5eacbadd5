"""Inlet: a self-hosted server for durable, event-driven functions (Inngest-compatible)."""

from __future__ import annotations

__version__ = "0.1.0"
