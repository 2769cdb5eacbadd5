"""Persistence behind one interface in domain verbs, with memory and SQLite backends."""

from __future__ import annotations

from inlet.store.base import IngestResult, Store
from inlet.store.factory import open_store

__all__ = ["IngestResult", "Store", "open_store"]
