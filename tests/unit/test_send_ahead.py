"""Which jobs of a batch send their first statements before the jobs ahead of them run
(``writer.send_ahead``): only where no earlier job can change what they read."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from inlet.store.writer import Ahead, Job, send_ahead


class _Job(Ahead):
    def __init__(self, name: str, sent: list[str], *, contained: bool = True) -> None:
        self.name, self._sent, self._contained = name, sent, contained

    def __call__(self) -> str:
        return self.name

    def contained(self) -> bool:
        return self._contained

    def ahead(self) -> Callable[[], str]:
        self._sent.append(self.name)
        return lambda: f"{self.name} (sent ahead)"


def _batch(*jobs: tuple[Callable[..., Any], bool, tuple[str, ...]]) -> list[Job]:
    loop = asyncio.new_event_loop()
    try:
        return [(fn, (), loop.create_future(), write, runs) for fn, write, runs in jobs]
    finally:
        loop.close()


def test_jobs_on_runs_of_their_own_send_ahead_and_a_run_s_second_job_waits_its_turn() -> None:
    sent: list[str] = []
    a, b, c = _Job("a", sent), _Job("b", sent), _Job("c", sent)
    calls = send_ahead(_batch((a, True, ("r1",)), (b, True, ("r1",)), (c, True, ("r2",))))
    assert sent == ["a", "c"]
    assert [call() for call in calls] == ["a (sent ahead)", "b", "c (sent ahead)"]


def test_nothing_after_a_job_that_may_change_other_runs_is_sent_ahead() -> None:
    # A completion that emits events can resume or cancel any run: what a later job's
    # statement read before it ran could be stale. Its own statement still goes ahead.
    sent: list[str] = []
    emits = _Job("emits", sent, contained=False)
    later = _Job("later", sent)
    send_ahead(_batch((emits, True, ("r1",)), (later, True, ("r2",))))
    assert sent == ["emits"]


def test_a_plain_write_stops_the_sending_and_a_read_does_not() -> None:
    sent: list[str] = []

    def write() -> None: ...

    def read() -> None: ...

    first, second = _Job("first", sent), _Job("second", sent)
    send_ahead(_batch((read, False, ()), (first, True, ("r1",)), (write, True, ())))
    send_ahead(_batch((write, True, ()), (second, True, ("r2",))))
    assert sent == ["first"]
