"""The store contract for retention (``Store.purge``): finished runs past the cutoff go
with their history, memos and events, a batch at a time; nothing a run in flight or a
waiting step may still need goes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from inlet.model import (
    Attempt,
    Event,
    Finish,
    ItemKind,
    Listener,
    ListenerKind,
    Memo,
    NewItem,
    NewRun,
    Outcome,
    RunStatus,
)
from inlet.store import Store
from inlet.store.operations import PAUSED
from inlet.store.retention import PurgeResult
from inlet.store.sqlite import SQLiteStore

NOW = 1_800_000_000.0
DAY = 86_400.0
LATER = NOW + 10 * DAY


def event(n: int, name: str = "app/test", at: float = NOW, **data: object) -> Event:
    internal = f"01EVENT{n:019d}"
    return Event(
        internal_id=internal,
        name=name,
        data=dict(data),
        id=internal,
        ts=int(at * 1000),
        received_at=at,
    )


def run_id(n: int) -> str:
    return f"01RUN{n:021d}"


def attempt(rid: str, item_id: str, at: float, outcome: str = "completed") -> Attempt:
    return Attempt(
        run_id=rid,
        item_id=item_id,
        step_id="step",
        attempt=0,
        started_at=at,
        ended_at=at,
        outcome=outcome,
        status_code=200,
    )


async def start(store: Store, n: int, ev: Event, fn: str = "app-fn", new: bool = True) -> str:
    rid = run_id(n)
    runs = [NewRun(rid, fn, (ev.internal_id,), f"k{n}", ev.received_at)]
    await store.ingest([ev] if new else [], runs, ev.received_at, DAY)
    return rid


async def finish(store: Store, rid: str, at: float, size: int = 10) -> None:
    """Claim the run's discovery and complete the run with one memo, at ``at``."""
    claims = await store.claim(at, 1000, at + 30, "w")
    [claim] = [c for c in claims if c.item.run_id == rid]
    done = Outcome(
        attempt=attempt(rid, claim.item.id, at),
        memos=(Memo("s1", {"data": "x" * size}, "s1"),),
        finish=Finish(RunStatus.COMPLETED, output={"ok": True}),
    )
    assert await store.complete(claim, done, at, DAY)


async def finished(
    store: Store, n: int, ended: float, fn: str = "app-fn", size: int = 10, at: float = NOW
) -> str:
    rid = await start(store, n, event(n, at=at), fn)
    await finish(store, rid, ended, size)
    return rid


async def purge_all(store: Store, before: float, **kwargs: object) -> PurgeResult:
    return await store.purge(before, 1000, LATER, **kwargs)  # type: ignore[arg-type]


async def test_finished_runs_past_the_cutoff_go_with_their_history_memos_and_events(
    store: Store,
) -> None:
    old = [await finished(store, n, NOW + 10) for n in (1, 2)]
    recent = await finished(store, 3, NOW + 500)

    result = await purge_all(store, NOW + 100)

    assert (result.runs, result.memos, result.events) == (2, 2, 2)
    assert result.attempts >= 2
    for n, rid in enumerate(old, start=1):
        assert await store.get_run(rid) is None
        assert await store.history(rid) == []
        assert await store.run_states([rid]) == []
        assert await store.get_event(event(n).internal_id) is None
    kept = await store.get_run(recent)
    assert kept is not None and kept.status is RunStatus.COMPLETED
    assert await store.history(recent) != []
    assert await store.get_event(event(3).internal_id) is not None
    [state] = await store.run_states([recent])
    assert [m.step_id for m in state.memos] == ["s1"]


async def test_runs_in_flight_stay_whatever_their_age(store: Store) -> None:
    leased = await start(store, 2, event(2))
    assert [c.item.run_id for c in await store.claim(NOW, 1000, NOW + 30, "w")] == [leased]
    sleeping = await start(store, 3, event(3))
    claims = await store.claim(NOW, 1000, NOW + 30, "w")
    [nap] = [c for c in claims if c.item.run_id == sleeping]
    timer = NewItem(ItemKind.TIMER, "nap", NOW + 30 * DAY, name="nap", payload={"memo": None})
    outcome = Outcome(attempt=attempt(sleeping, nap.item.id, NOW, "step"), enqueue=(timer,))
    assert await store.complete(nap, outcome, NOW, DAY)
    queued = await start(store, 1, event(1))

    result = await purge_all(store, LATER)

    assert result.runs == 0
    for n, rid in enumerate((queued, leased, sleeping), start=1):
        assert await store.get_run(rid) is not None
        assert await store.get_event(event(n).internal_id) is not None


async def test_an_event_a_kept_run_refers_to_stays(store: Store) -> None:
    ev = event(1)
    gone = await start(store, 1, ev, "app-a")
    kept = await start(store, 2, ev, "app-b", new=False)
    await finish(store, gone, NOW + 10)
    await finish(store, kept, NOW + 5 * DAY)

    result = await purge_all(store, NOW + DAY)

    assert result.runs == 1 and result.events == 0
    assert await store.get_event(ev.internal_id) is not None
    assert [r.id for r in await store.runs_for_event(ev.internal_id)] == [kept]


async def test_an_event_a_waiting_run_may_still_be_matched_with_stays(store: Store) -> None:
    before_wait = event(10, "app/go", at=NOW - 100, id=8)
    await store.ingest([before_wait], [], NOW - 100, DAY)
    waiting = await start(store, 1, event(1))
    [claim] = [c for c in await store.claim(NOW, 100, NOW + 30, "w") if c.item.run_id == waiting]
    wait = Listener(
        id=f"{waiting}:w1",
        run_id=waiting,
        kind=ListenerKind.WAIT,
        event="app/go",
        expires_at=NOW + 30 * DAY,
        step_id="w1",
        expression="async.data.id == 7",
        index=(("data.id", 7),),
    )
    outcome = Outcome(attempt=attempt(waiting, claim.item.id, NOW, "waiting"), listeners=(wait,))
    assert await store.complete(claim, outcome, NOW, DAY)
    since_wait = event(11, "app/go", at=NOW + 5, id=8)
    other_name = event(12, "app/other", at=NOW + 5)
    await store.ingest([since_wait, other_name], [], NOW + 5, DAY)

    result = await purge_all(store, LATER)

    assert result.runs == 0 and result.events == 2
    assert await store.get_event(since_wait.internal_id) is not None, "the wait may match it"
    assert await store.get_event(before_wait.internal_id) is None, "older than the wait"
    assert await store.get_event(other_name.internal_id) is None
    assert await store.get_event(event(1).internal_id) is not None, "its run is waiting"


async def test_a_function_s_own_cutoff_deletes_only_its_runs_and_their_events(
    store: Store,
) -> None:
    short = await finished(store, 1, NOW + 10, "app-short")
    other = await finished(store, 2, NOW + 10, "app-other")
    unrelated = event(3, "app/nothing", at=NOW)
    await store.ingest([unrelated], [], NOW, DAY)

    mine = await purge_all(store, NOW + 100, function_slug="app-short")

    assert (mine.runs, mine.events, mine.keys) == (1, 1, 0)
    assert await store.get_run(short) is None
    assert await store.get_run(other) is not None
    assert await store.get_event(unrelated.internal_id) is not None, "not this function's"

    rest = await purge_all(store, NOW + 100, exclude=("app-short", "app-kept"))
    assert (rest.runs, rest.events) == (1, 2)
    assert await store.get_run(other) is None
    assert await store.get_event(unrelated.internal_id) is None


async def test_the_global_purge_leaves_the_runs_of_excluded_functions(store: Store) -> None:
    kept = await finished(store, 1, NOW + 10, "app-long")
    result = await purge_all(store, NOW + 100, exclude=("app-long",))
    assert result.runs == 0 and await store.get_run(kept) is not None
    assert await store.get_event(event(1).internal_id) is not None


async def test_batches_take_at_most_the_limit_oldest_first(store: Store) -> None:
    rids = [await finished(store, n, NOW + 10 + (5 - n)) for n in range(5)]
    assert (await store.purge(NOW + 100, 2, LATER)).runs == 2
    left = [rid for rid in rids if await store.get_run(rid) is not None]
    assert left == rids[:3], "the two that ended first went first"
    sizes = [(await store.purge(NOW + 100, 2, LATER)).runs for _ in range(3)]
    assert sizes == [2, 1, 0]


async def test_skips_and_expired_run_keys_go_too(store: Store) -> None:
    await store.set_paused("app-fn", NOW)
    skipped = event(1)
    await store.ingest(
        [skipped], [NewRun(run_id(1), "app-fn", (skipped.internal_id,), "k1", NOW)], NOW, DAY
    )
    assert await store.count_skipped("app-fn", PAUSED, None, LATER) == 1
    await store.set_paused("app-fn", None)
    await finished(store, 2, NOW + 10)

    result = await purge_all(store, NOW + 100)

    assert result.events == 2 and result.keys >= 1
    assert await store.count_skipped("app-fn", PAUSED, None, LATER) == 0
    again = await store.ingest([], [NewRun(run_id(3), "app-fn", (), "k2", LATER)], LATER, DAY)
    assert again.run_ids == (run_id(3),)


def _space(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        size: int = db.execute("PRAGMA page_size").fetchone()[0]
        return int(pages) * size
    finally:
        db.close()


async def test_the_sqlite_file_gives_the_space_back(tmp_path: Path) -> None:
    path = tmp_path / "inlet.db"
    store = SQLiteStore(str(path))
    await store.open()
    try:
        for n in range(200):
            await finished(store, n, NOW + 10, size=8000)
        full = _space(path)
        while (await store.purge(NOW + 100, 50, LATER)).runs:
            pass
        empty = _space(path)
    finally:
        await store.close()
    assert empty < full / 4, (full, empty)
    assert path.stat().st_size == empty


async def test_an_older_sqlite_file_becomes_incremental_once(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE leftover (x)")
    db.close()
    store = SQLiteStore(str(path))
    await store.open()
    await store.close()
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA auto_vacuum").fetchone()[0] == 2
    finally:
        db.close()
