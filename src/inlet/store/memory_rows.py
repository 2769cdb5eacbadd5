"""The in-memory store's tables: every row of the SQL schema as dicts, shared by the
engine's ``MemoryTx`` (``memory.py``) and the read model's ``MemoryReads``."""

from __future__ import annotations

from dataclasses import dataclass, field

from inlet.model import Attempt, Event, ItemKind, Listener, QueueItem, SkipRecord, StoredMemo
from inlet.store.engine.tx import GateState, Keys, RunRow
from inlet.store.metadata import MetadataRows


@dataclass(slots=True)
class Slot:
    item: QueueItem
    rank: float
    orank: float
    keys: Keys = ()
    lease: str | None = None
    parked: str | None = None


@dataclass(slots=True)
class Rows:
    """Every table, as dicts."""

    events: dict[str, Event] = field(default_factory=dict)
    skips: dict[str, dict[str, SkipRecord]] = field(default_factory=dict)
    keys: dict[tuple[str, str], tuple[str, float]] = field(default_factory=dict)
    gates: dict[tuple[str, str, str], GateState] = field(default_factory=dict)
    runs: dict[str, RunRow] = field(default_factory=dict)
    singletons: dict[str, str] = field(default_factory=dict)
    event_runs: dict[str, list[str]] = field(default_factory=dict)
    memos: dict[str, dict[str, StoredMemo]] = field(default_factory=dict)
    attempts: dict[str, list[Attempt]] = field(default_factory=dict)
    listeners: dict[str, Listener] = field(default_factory=dict)
    queue: dict[str, Slot] = field(default_factory=dict)
    run_items: dict[str, dict[tuple[ItemKind, str], str]] = field(default_factory=dict)
    inflight: dict[str, Keys] = field(default_factory=dict)
    paused: dict[str, float] = field(default_factory=dict)
    skip_times: dict[tuple[str, str], tuple[str, float]] = field(default_factory=dict)
    metadata: MetadataRows = field(default_factory=dict)
