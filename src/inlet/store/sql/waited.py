"""Which event names some listener waits for, known in process on a shared database.

Every event the router sees asks the store for the listeners waiting on its name, and
most events (every run's ``inngest/function.finished``, to begin with) have a name nobody
ever waited for. SQLite owns its file and keeps that set itself; PostgreSQL's processes
share theirs through the database:

- loaded from ``listeners`` when the process starts listening (after its ``LISTEN``, so a
  listener stored meanwhile is either loaded or heard of);
- a name this process stores a listener for is added at once;
- a transaction that stores a listener sends its name on ``inlet_waits`` at its commit,
  and every process adds it when the notification arrives.

Names are never removed (a name once waited for is likely to be again), so the set may
hold more than is waited for, which costs a read, never an answer. While a process is
not listening (starting, or its connection lost) it knows nothing and reads for every
event, as before. What it cannot know is a listener another process committed whose
notification has not arrived yet: an event of that name routed in that moment finds no
listener. That is the window the read itself always had (it runs before the ingest's
transaction commits, so a listener committed in between is missed as well), made longer
by the notification's delivery, and only for a name this process had not heard of. A wait
closes it from its side: when its listener is stored, an event that matches and was
stored since the step started resumes it at once (``engine.waits.early_event``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

WAITED_NAMES = """
WITH RECURSIVE names(name) AS (
    SELECT min(event) FROM listeners
    UNION ALL
    SELECT (SELECT min(event) FROM listeners WHERE event > name) FROM names
    WHERE name IS NOT NULL
)
SELECT name FROM names WHERE name IS NOT NULL
"""
"""The distinct names of the stored listeners, one index probe per name (a skip scan of
``listeners_lookup``): ``SELECT DISTINCT`` would read every listener."""


class WaitedNames:
    """The set, safe to read from the event loop while other threads add to it."""

    def __init__(self) -> None:
        self._names: set[str] | None = None
        """None: unsure (not listening), so any name may be waited for."""
        self._lock = threading.Lock()

    def may_wait(self, names: set[str]) -> bool:
        """Whether some listener may wait for one of ``names`` (True when unsure)."""
        known = self._names
        return known is None or not names.isdisjoint(known)

    def add(self, name: str) -> None:
        with self._lock:
            if self._names is not None:
                self._names.add(name)

    def load(self, names: Iterable[str]) -> None:
        loaded = set(names)
        with self._lock:
            self._names = loaded

    def forget(self) -> None:
        """Not listening any more: unsure until ``load`` again."""
        with self._lock:
            self._names = None

    @property
    def known(self) -> bool:
        return self._names is not None
