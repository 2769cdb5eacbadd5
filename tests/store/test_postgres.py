"""What only a shared PostgreSQL store does: wake other processes, elect one leader, let
two processes claim without taking the same item."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from inlet.store.postgres import PostgresStore, migrate

from .test_contract import DAY, NOW, event, new_run


@pytest.fixture
async def two(pg_url: str) -> AsyncIterator[tuple[PostgresStore, PostgresStore]]:
    """Two stores on one database, as two inlet processes would have."""
    migrate(pg_url)
    a, b = PostgresStore(pg_url), PostgresStore(pg_url)
    await a.open()
    await b.open()
    try:
        yield a, b
    finally:
        await a.close()
        await b.close()


async def test_work_queued_by_one_process_wakes_the_other(
    two: tuple[PostgresStore, PostgresStore],
) -> None:
    a, b = two
    woken = asyncio.Event()
    b.watch(woken.set, lambda: None)
    await asyncio.sleep(1.0)  # the listener connects and looks once on its own
    woken.clear()
    ev = event(1)
    await a.ingest([ev], [new_run(1, ev)], NOW, DAY)
    await asyncio.wait_for(woken.wait(), 5.0)


async def test_an_app_synced_through_one_process_is_announced_to_the_other(
    two: tuple[PostgresStore, PostgresStore],
) -> None:
    from inlet.model import App

    a, b = two
    synced = asyncio.Event()
    b.watch(lambda: None, synced.set)
    await asyncio.sleep(1.0)
    synced.clear()
    await a.save_app(App("http://127.0.0.1:1/api/inngest", "app"), [])
    await asyncio.wait_for(synced.wait(), 5.0)


async def test_one_leader_at_a_time_and_another_takes_over_when_it_goes(
    two: tuple[PostgresStore, PostgresStore],
) -> None:
    a, b = two
    assert await a.lead("cron")
    assert await a.lead("cron")  # still held
    assert not await b.lead("cron")
    assert await b.lead("other-job")  # leaders are per job
    await a.close()  # the process goes away: its session and its lock with it
    # The server ends the closed session's backend, and frees its lock, a moment after
    # the client hangs up (a loaded machine made that moment visible): the scheduler
    # retries too, so the takeover is checked within a deadline, not at once.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while not await b.lead("cron"):
        assert loop.time() < deadline, "b never took over the lock a released"
        await asyncio.sleep(0.05)


async def test_two_processes_claiming_at_once_never_take_the_same_item(
    two: tuple[PostgresStore, PostgresStore],
) -> None:
    a, b = two
    events = [event(n) for n in range(1, 41)]
    await a.ingest(events, [new_run(n, ev) for n, ev in enumerate(events, 1)], NOW, DAY)
    claimed: list[str] = []
    for _ in range(5):
        got = await asyncio.gather(a.claim(NOW, 5, NOW + 30, "a"), b.claim(NOW, 5, NOW + 30, "b"))
        claimed += [c.item.id for batch in got for c in batch]
    assert len(claimed) == 40
    assert len(set(claimed)) == 40


async def test_reads_recover_when_every_pooled_connection_was_terminated(pg_url: str) -> None:
    """After a database restart every pooled connection is dead at once; a read must not
    answer an error for each of them in turn."""
    import psycopg

    migrate(pg_url)
    store = PostgresStore(pg_url)
    await store.open()
    try:
        ev = event(1)
        await store.ingest([ev], [new_run(1, ev)], NOW, DAY)
        # Fill the pool: concurrent reads each hold a connection.
        for _ in range(5):
            await asyncio.gather(*(store.runs_for_event(ev.internal_id) for _ in range(8)))
            await asyncio.sleep(0.2)  # the pool grows in the background
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        for _ in range(3):
            runs = await store.runs_for_event(ev.internal_id)
            assert len(runs) == 1
    finally:
        await store.close()
