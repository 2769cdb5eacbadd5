"""Persistence behind one interface in domain verbs, with memory and SQLite backends."""

from __future__ import annotations

from inlet.store.base import IngestResult, Store

__all__ = ["IngestResult", "Store"]
