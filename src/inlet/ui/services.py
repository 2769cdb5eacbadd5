"""What the dashboard's pages read and act through: the store's read model and the same
services the REST API uses, so a button does exactly what its API twin does."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from inlet.clock import Clock
from inlet.events.ingest import Ingestor
from inlet.runs.bulk import BulkOps
from inlet.runs.cancel import Canceller
from inlet.runs.invoke import Invoker
from inlet.runs.pause import Pauser
from inlet.runs.registry import Registry
from inlet.runs.rerun import Rerunner
from inlet.store import Store
from inlet.sync.syncer import Syncer


@dataclass(frozen=True, slots=True)
class Services:
    store: Store
    clock: Clock
    registry: Callable[[], Registry]
    canceller: Canceller
    syncer: Syncer
    rerunner: Rerunner
    pauser: Pauser
    bulk: BulkOps
    ingestor: Ingestor
    invoker: Invoker
