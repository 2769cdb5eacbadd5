"""The one thread that owns a SQL store's connection, with group commit.

The drivers block, and the event loop must not: every statement runs on this thread. Jobs
queued while a batch runs are drained into the next batch and share one transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import random
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, Protocol

Job = tuple[Callable[..., Any], tuple[Any, ...], "asyncio.Future[Any]", bool, tuple[str, ...]]
"""(function, arguments, future for the result, whether it writes, the runs it changes)."""
Result = tuple["asyncio.Future[Any]", Any, BaseException | None]


class Session(Protocol):
    """A backend's transaction boundaries on the thread's connection."""

    def ready(self) -> None:
        """Before each batch: make sure the connection is usable (reconnect if it broke)."""

    def begin(self, runs: Sequence[str]) -> None:
        """Start a write transaction that will change ``runs`` (a shared database locks
        their rows now, in one fixed order, so that two batches never wait on each other
        in a cycle)."""

    def commit(self) -> None: ...

    def rollback(self) -> None: ...

    def retriable(self, exc: BaseException) -> bool:
        """Whether ``exc`` aborted the transaction for another's sake (a deadlock, a
        serialization failure), so that running it again can succeed."""

    @property
    def pipelined(self) -> bool:
        """Whether statements can be sent before earlier ones are answered (then a
        batch's :class:`Ahead` jobs send theirs together: one round trip answers all)."""


class Ahead(ABC):
    """A job (the function of a :data:`Job`, called with no arguments) whose first
    statements can be sent before the jobs ahead of it in its batch have run."""

    @abstractmethod
    def __call__(self) -> Any: ...

    @abstractmethod
    def contained(self) -> bool:
        """Whether the job changes no run but those it names."""

    @abstractmethod
    def ahead(self) -> Callable[[], Any]:
        """Send the first statements now; the job to run in its turn, with their answers."""


class Writer(threading.Thread):
    """The one thread that touches the connection.

    Jobs queued while a batch runs are drained into the next one and share its single
    transaction (group commit): a commit costs as much for one call's outcome as for fifty.
    If one job fails, the batch is replayed job by job, so that failure undoes only its own
    changes; results go back to the event loop once per batch, after the commit.
    """

    MAX_BATCH = 256
    ATTEMPTS = 5
    """A transaction aborted as retriable runs at most this many times."""

    def __init__(self, loop: asyncio.AbstractEventLoop, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.loop = loop
        self.jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self.session: Session | None = None

    def run(self) -> None:
        while True:
            first = self.jobs.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self.MAX_BATCH:
                try:
                    job = self.jobs.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    self.jobs.put(None)
                    break
                batch.append(job)
            results = self._run_batch(batch)
            self.loop.call_soon_threadsafe(deliver, results)

    def _run_batch(self, batch: list[Job]) -> list[Result]:
        session = self.session
        if session is not None:
            try:
                session.ready()
            except Exception as exc:  # the database is away: every job hears why
                return [(job[2], None, exc) for job in batch]
        if session is None or not any(job[3] for job in batch) or len(batch) == 1:
            return self._run_alone(batch)
        # One transaction for the whole batch. A job that fails would leave the others'
        # changes half made, so then the batch is rolled back and every job runs again in
        # a transaction of its own; nothing has been answered yet, so nobody can tell.
        runs = sorted({run for job in batch for run in job[4]})
        for attempt in range(1, self.ATTEMPTS + 1):
            try:
                return self._together(session, batch, runs)
            except BaseException as exc:
                self._undo(session)
                if not session.retriable(exc):
                    break
                backoff(attempt)
        return self._run_alone(batch)

    @staticmethod
    def _together(session: Session, batch: list[Job], runs: list[str]) -> list[Result]:
        session.begin(runs)
        if session.pipelined:
            batch = contained_first(batch)
            calls = send_ahead(batch)
        else:
            calls = [job[0] for job in batch]
        results: list[Result] = [
            (future, call(*args), None)
            for call, (_, args, future, _, _) in zip(calls, batch, strict=True)
        ]
        session.commit()
        return results

    def _run_alone(self, batch: list[Job]) -> list[Result]:
        """Each job in its own transaction (reads in none)."""
        session = self.session
        results: list[Result] = []
        for fn, args, future, write, runs in batch:
            try:
                if write and session is not None:
                    value = self._alone(session, fn, args, sorted(set(runs)))
                else:
                    value = fn(*args)
                results.append((future, value, None))
            except BaseException as exc:  # delivered to the awaiting coroutine
                results.append((future, None, exc))
        return results

    def _alone(
        self, session: Session, fn: Callable[..., Any], args: tuple[Any, ...], runs: list[str]
    ) -> Any:
        for attempt in range(1, self.ATTEMPTS + 1):
            try:
                session.begin(runs)
                value = fn(*args)
                session.commit()
            except BaseException as exc:
                self._undo(session)
                if attempt < self.ATTEMPTS and session.retriable(exc):
                    backoff(attempt)
                    continue
                raise
            return value
        raise AssertionError("unreachable")

    @staticmethod
    def _undo(session: Session) -> None:
        # A rollback on a connection that broke fails too; the next batch reconnects.
        with contextlib.suppress(Exception):
            session.rollback()


def contained_first(batch: list[Job]) -> list[Job]:
    """The batch with its jobs that change only the runs they name (``Ahead.contained``)
    moved before the others, each part in its order, so that :func:`send_ahead` sends
    them all ahead: a job that may change other runs (a run's last call, which emits its
    finished event) ended the jobs sent ahead, and a quarter of W1's calls are last ones.
    The jobs of a batch were queued while none had been answered, so any order of them is
    one they could have come in."""
    first = [job for job in batch if _contained(job)]
    if not first or len(first) == len(batch):
        return batch
    return first + [job for job in batch if not _contained(job)]


def _contained(job: Job) -> bool:
    fn = job[0]
    return job[3] and isinstance(fn, Ahead) and fn.contained()


def send_ahead(batch: list[Job]) -> list[Callable[..., Any]]:
    """What to call for each job of a batch whose transaction has begun. An :class:`Ahead`
    job's first statements are sent now, before the jobs ahead of it run, as long as none
    of those can change what they read: each changes only the runs it names, and none
    names the job's own. Up to the first job that may change other runs."""
    calls = [job[0] for job in batch]
    named: set[str] = set()
    for k, (fn, _, _, write, runs) in enumerate(batch):
        if not write:
            continue
        if not isinstance(fn, Ahead):
            break
        if named.isdisjoint(runs):
            calls[k] = fn.ahead()
        named.update(runs)
        if not fn.contained():
            break
    return calls


def backoff(attempt: int) -> None:
    """A short random pause before running an aborted transaction again: run at once, it can
    take its first row lock again before the transaction it deadlocked with (woken by the
    abort) has, and deadlock with it once more; a random pause breaks that step."""
    time.sleep(random.uniform(0, 0.002 * attempt))


def deliver(results: list[Result]) -> None:
    for future, value, exc in results:
        if future.cancelled():
            continue
        if exc is not None:
            future.set_exception(exc)
        else:
            future.set_result(value)
