"""The engine's ``Tx`` port in SQL: one named query per row operation.

Used on a store thread inside the transaction it opened. On PostgreSQL the connection is
in pipeline mode, where reading a statement's result costs a round trip: only the
operations whose answer the engine needs (a unique key taken, a lease still held) read
one; the rest are sent and forgotten.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol

import orjson

from inlet.expr import index_value
from inlet.metrics import Tally
from inlet.model import (
    Attempt,
    Event,
    Listener,
    QueueItem,
    Run,
    RunFlow,
    SkipSet,
    StoredMemo,
)
from inlet.store.engine.queue import PARKED
from inlet.store.engine.tx import (
    Due,
    FirstLease,
    GateState,
    Keys,
    Lease,
    Loaded,
    RunRow,
    Start,
)
from inlet.store.sql.rows import (
    attempt_row,
    dumps,
    event_from,
    event_row,
    item_from,
    json_rows,
    keys_from,
    listener_row,
    queue_row,
    run_columns,
    run_from,
    run_row,
    start_rows,
)


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """What the SQL stores need of a driver's connection (sqlite3's shape)."""

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Cursor: ...

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Cursor: ...


Alone = tuple[str, Sequence[Any]]
"""A statement and its arguments: what ``Hooks.gather`` sends for a row no other joins."""


class Hooks(Protocol):
    """What differs between one process owning the database and several sharing it."""

    def cached_event(self, db: Connection, internal_id: str) -> Event | None:
        """The event, from a per-process cache of decoded events when it is there."""

    def horizon(self, db: Connection) -> float:
        """The largest delay a negative priority gave any queued item."""

    def note_delay(self, db: Connection, delay: float) -> None: ...

    def noted_listener(self, event: str) -> None: ...

    def noted_due(self, due: float, now: float) -> None: ...

    def lock_keys(self, db: Connection, names: Sequence[str]) -> None: ...

    def locked_run(self, run_id: str) -> tuple[Any, ...] | None: ...

    def forget_runs(self, run_ids: Sequence[str] | None = None) -> None: ...

    def id_list(self, ids: Sequence[str]) -> Any:
        """``ids`` as the one parameter a ``{ids}`` list query takes."""

    def write_rows(self, db: Connection, sql: str, rows: list[tuple[Any, ...]]) -> None:
        """Run ``sql`` once per row, or once for all rows where the dialect's text takes
        each column as an array."""

    def gather(self, sql: str, row: tuple[Any, ...], alone: Alone) -> Callable[[], Any]:
        """``row`` for ``sql``, written for many rows (a JSON array): sent with the rows
        given for it next, as one statement, or as ``alone`` (a statement and its
        arguments, answering the same) if none is (``pg_adapter.Adapter.gather``).
        Returns how to ask for the row's answer."""


class SqlTx:
    """``inlet.store.engine.tx.Tx`` over a connection and a dialect's named queries."""

    __slots__ = ("db", "hooks", "paused", "q", "tally")

    def __init__(self, db: Connection, q: Mapping[str, str], hooks: Hooks) -> None:
        self.db = db
        self.q = q
        self.hooks = hooks
        self.tally = Tally()
        self.paused: set[str] | None = None
        """The paused functions, once this transaction has asked (an ingest asks once per
        run)."""

    def _x(self, name: str, args: Sequence[Any] = ()) -> Cursor:
        return self.db.execute(self.q[name], args)

    # Events

    def insert_events(self, events: Sequence[Event], skip_set: str | None = None) -> list[str]:
        # One statement for all of them (each dialect's text takes a JSON array of rows).
        rows = json_rows([(*event_row(e), skip_set) for e in events])
        stored = {row[0] for row in self._x("insert_events", (rows,))}
        fresh = []
        for event in events:  # in order, each once
            if event.internal_id in stored:
                stored.discard(event.internal_id)
                fresh.append(event.internal_id)
        return fresh

    def event(self, internal_id: str) -> Event | None:
        return self.hooks.cached_event(self.db, internal_id)

    def events_since(self, name: str, since: float) -> Iterable[Event]:
        return (event_from(*row) for row in self._x("events_since", (name, since)))

    def insert_skip(self, event_id: str, function_slug: str, reason: str, now: float) -> None:
        self._x("insert_skip", (event_id, function_slug, reason, now))

    def insert_skips(self, skips: Sequence[SkipSet], now: float, skip_set: str) -> None:
        # A row per function and reason (the engine's sets are one each), its events as
        # a JSON array.
        rows = [
            (skip_set, s.function_slug, s.reason, float(now), orjson.dumps(s.event_ids).decode())
            for s in skips
        ]
        self.hooks.write_rows(self.db, self.q["insert_skips"], rows)

    # Run keys and flow-control state

    def lock_keys(self, names: Sequence[str]) -> None:
        self.hooks.lock_keys(self.db, names)

    def function_paused(self, function_slug: str) -> bool:
        # Every paused function at the first question: an ingest of many functions' runs
        # asks once (on PostgreSQL a round trip), not once per function.
        if self.paused is None:
            self.paused = {row[0] for row in self._x("paused_functions")}
        return function_slug in self.paused

    def reserve_key(
        self, function_slug: str, key: str, run_id: str, now: float, until: float
    ) -> bool:
        args = (function_slug, key, run_id, until, now)
        return bool(self._x("reserve_key", args).rowcount)

    def reserve_keys(
        self, keys: Sequence[tuple[str, str, str]], now: float, until: float
    ) -> list[bool]:
        rows = json_rows([(slug, key, run_id, float(until)) for slug, key, run_id in keys])
        reserved = {row[0] for row in self._x("reserve_keys", (rows, now))}
        return [run_id in reserved for _, _, run_id in keys]

    def key_holder(self, function_slug: str, key: str) -> str | None:
        row = self._x("key_holder", (function_slug, key)).fetchone()
        return None if row is None else str(row[0])

    def gate(self, function_slug: str, gate: str, key: str) -> GateState | None:
        row = self._x("gate", (function_slug, gate, key)).fetchone()
        return None if row is None else GateState(row[0], row[1], row[2] or 0.0, row[3], row[4])

    def set_gate(self, function_slug: str, gate: str, key: str, state: GateState) -> None:
        args = (function_slug, gate, key, state.tat, state.run_id, state.first_at, state.size)
        self._x("set_gate", (*args, state.size_bytes))

    def clear_gate(self, function_slug: str, gate: str, key: str) -> None:
        self._x("clear_gate", (function_slug, gate, key))

    # Runs

    def insert_run(self, run: Run, flow: RunFlow) -> None:
        self.insert_runs([(run, flow)])

    def insert_runs(self, runs: Sequence[tuple[Run, RunFlow]]) -> None:
        if runs:
            rows = [run_row(run, flow) for run, flow in runs]
            links = [(e, run.id) for run, _ in runs for e in run.event_ids]
            self._write_runs(rows, max(-flow.priority for _, flow in runs), links)

    def insert_queued_runs(self, starts: Sequence[Start], now: float) -> None:
        if starts:
            runs, items, links = start_rows(starts, now)
            self._write_runs(runs, max(-new.flow.priority for new, _, _ in starts), links)
            self.hooks.write_rows(self.db, self.q["enqueue"], items)

    def _write_runs(
        self, rows: list[tuple[Any, ...]], delay: float, links: list[tuple[str, str]]
    ) -> None:
        self.hooks.write_rows(self.db, self.q["insert_run"], rows)
        if delay > 0:
            self.hooks.note_delay(self.db, delay)
        self.hooks.write_rows(self.db, self.q["link_event"], links)

    def run(self, run_id: str) -> RunRow | None:
        row = self.hooks.locked_run(run_id) or self._x("lock_run_row", (run_id,)).fetchone()
        if row is None:
            return None
        return RunRow(run_from(row), row[13], keys_from(row[14]))

    def run_states(self, run_ids: Sequence[str]) -> Mapping[str, Loaded]:
        return self.run_states_pending(run_ids)[0]

    def run_states_pending(
        self, run_ids: Sequence[str]
    ) -> tuple[dict[str, Loaded], dict[str, int] | None]:
        """The runs with their memos, and how many queue items each has where the dialect
        reads them all in one statement (``runs_with_memos``); None: ask separately."""
        if not run_ids:
            return {}, None
        ids = self.hooks.id_list(run_ids)
        if "runs_with_memos" in self.q:
            loaded: dict[str, Loaded] = {}
            pending: dict[str, int] = {}
            for row in self._x("runs_with_memos", (ids,)):
                columns = [column or () for column in row[15:21]]
                kept = tuple(
                    StoredMemo(step, orjson.loads(value), name, op, seq, at)
                    for step, value, name, op, seq, at in zip(*columns, strict=True)
                )
                loaded[row[0]] = (RunRow(run_from(row), row[13], keys_from(row[14])), kept)
                pending[row[0]] = row[21]
            return loaded, pending
        memo_rows = self._x("memos_of_runs", (ids,))
        run_rows = self._x("runs_by_ids", (ids,))  # sent before the memos are read: one trip
        memos: dict[str, list[StoredMemo]] = {}
        for r in memo_rows:
            memos.setdefault(r[0], []).append(
                StoredMemo(r[1], orjson.loads(r[2]), r[3], r[4], r[5], r[6])
            )
        found: dict[str, Loaded] = {}
        for row in run_rows:
            run = RunRow(run_from(row), row[13], keys_from(row[14]))
            found[row[0]] = (run, tuple(memos.get(row[0], ())))
        return found, None

    def start_runs(self, run_ids: Sequence[str], at: float) -> None:
        self.hooks.forget_runs(run_ids)
        self._x("start_runs", (at, self.hooks.id_list(run_ids)))

    def update_run(self, run: Run, then: Sequence[tuple[QueueItem, float, Keys]] = ()) -> None:
        self.hooks.forget_runs((run.id,))
        args = run_columns(run)
        if len(then) == 1 and "update_run_enqueue_one" in self.q:
            self._x("update_run_enqueue_one", (*queue_row(then[0]), *args))
            return
        if then and "update_run_enqueue" in self.q:  # the dialect does both at once
            self._x("update_run_enqueue", (json_rows([queue_row(q) for q in then]), *args))
            return
        self._x("update_run", args)
        self.enqueue_many(then)

    def update_run_leasing(
        self, run: Run, then: Sequence[tuple[QueueItem, float, Keys]], first: FirstLease
    ) -> Callable[[], bool]:
        if len(then) != 1 or then[0][0].id != first.item_id or "update_run_lease" not in self.q:
            self.update_run(run, then)
            return self.lease_if_first(first.item_id, first.lease, first.until, first.now)
        self.hooks.forget_runs((run.id,))
        item, rank, _ = then[0]
        horizon = first.now + self.hooks.horizon(self.db)
        ahead = (horizon, first.now, float(rank), item.id)
        columns = (*queue_row(then[0]), first.lease, first.until, *run_columns(run))
        alone = (self.q["update_run_lease"], (*ahead, *columns))
        # The completions of a batch, as one statement (postgres.sql has both forms).
        asked = self.hooks.gather(
            self.q["update_runs_lease"], (*columns, horizon, first.now), alone
        )

        def taken() -> bool:
            row = asked()
            return row is not None and int(row[0]) == 1

        return taken

    def set_run_events(self, run_id: str, event_ids: Sequence[str], dropped: Sequence[str]) -> None:
        self.hooks.forget_runs((run_id,))
        self._x("set_run_events", (dumps(list(event_ids)), run_id))
        if dropped:
            self.hooks.write_rows(self.db, self.q["unlink_event"], [(e, run_id) for e in dropped])
        self.hooks.write_rows(self.db, self.q["link_event"], [(e, run_id) for e in event_ids])

    def active_singleton(self, function_slug: str, key: str) -> str | None:
        row = self._x("active_singleton", (function_slug, key)).fetchone()
        return None if row is None else str(row[0])

    def memos(self, run_id: str) -> tuple[StoredMemo, ...]:
        return tuple(
            StoredMemo(r[0], orjson.loads(r[1]), r[2], r[3], r[4], r[5])
            for r in self._x("memos", (run_id,))
        )

    def insert_memo(self, run_id: str, memo: StoredMemo) -> bool:
        args = (run_id, memo.step_id, memo.seq, dumps(memo.value), memo.name, memo.op)
        return bool(self._x("insert_memo", (*args, memo.recorded_at)).rowcount)

    def record_attempt(self, a: Attempt) -> None:
        self._x("record_attempt", attempt_row(a))

    # Listeners

    def insert_listener(self, listener: Listener) -> None:
        self.hooks.noted_listener(listener.event)
        literal = index_value(listener.index[0][1]) if listener.index else None
        self._x("insert_listener", listener_row(listener, literal))

    def take_listener(self, listener_id: str) -> bool:
        return bool(self._x("take_listener", (listener_id,)).rowcount)

    def drop_step_waits(self, run_id: str, step_id: str) -> None:
        self._x("drop_step_listeners", (run_id, step_id))
        self._x("drop_step_timer", (run_id, step_id))

    def has_branch(self, run_id: str) -> bool:
        if self._x("branch_item", (run_id,)).fetchone() is not None:
            return True
        return self._x("branch_listener", (run_id,)).fetchone() is not None

    # The queue

    def enqueue(self, item: QueueItem, rank: float, keys: Keys) -> None:
        self.enqueue_many([(item, rank, keys)])

    def enqueue_many(self, items: Sequence[tuple[QueueItem, float, Keys]]) -> None:
        self.hooks.write_rows(self.db, self.q["enqueue"], [queue_row(i) for i in items])

    def reschedule_start(self, run_id: str, due: float, rank: float) -> None:
        self._x("reschedule_start", (due, rank, rank, run_id))

    def retry_item(
        self, item_id: str, lease: str, due: float, rank: float, attempt: Attempt
    ) -> bool:
        return self._recorded("retry_item", (due, rank, rank, item_id, lease), attempt)

    def reset_attempt(self, item_id: str, lease: str, run_id: str) -> bool:
        return bool(self._x("reset_attempt", (item_id, lease, run_id)).rowcount)

    def consume_item(
        self,
        item_id: str,
        lease: str,
        attempt: Attempt,
        run_id: str = "",
        memos: Sequence[StoredMemo] = (),
    ) -> int | None:
        answer = self._consume(item_id, lease, attempt, run_id, memos)
        if answer is not None:  # lease check, history row and memos in one statement
            return answer()
        if not self._recorded("consume_item", (item_id, lease), attempt):
            return None
        stored = 0
        for memo in memos:
            if self.insert_memo(run_id, replace(memo, seq=memos[0].seq + stored)):
                stored += 1
        return stored

    def consume_ahead(
        self, item_id: str, lease: str, attempt: Attempt, run_id: str, memos: Sequence[StoredMemo]
    ) -> Callable[[], int | None] | None:
        return self._consume(item_id, lease, attempt, run_id, memos)

    def _consume(
        self, item_id: str, lease: str, attempt: Attempt, run_id: str, memos: Sequence[StoredMemo]
    ) -> Callable[[], int | None] | None:
        """This call for ``consume_items``, where the dialect has it: the calls a batch
        sends ahead go out as one statement (a call alone, ``consume_item_ahead``). Its
        answer, to ask later."""
        if "consume_items" not in self.q:
            return None
        recorded = attempt_row(attempt)
        given = [(m.step_id, dumps(m.value), m.name, m.op) for m in memos]
        at = float(memos[0].recorded_at) if memos else 0.0
        one, several = (given[0], None) if len(given) == 1 else ((None,) * 4, json_rows(given))
        args = (item_id, lease, *recorded, run_id, *one, several, run_id, run_id, at)
        as_json = [[v.decode() if isinstance(v, bytes) else v for v in g] for g in given]
        row = (item_id, lease, *recorded, run_id, at, as_json)
        asked = self.hooks.gather(
            self.q["consume_items"], row, (self.q["consume_item_ahead"], args)
        )

        def answer() -> int | None:
            held, stored = asked()
            return int(stored) if held else None

        return answer

    def _recorded(self, name: str, args: tuple[Any, ...], attempt: Attempt) -> bool:
        """A lease-checked write and, if the lease held, the attempt's history row: one
        statement where the dialect has ``<name>_recorded`` (postgres.sql), else two."""
        combined = f"{name}_recorded"
        if combined in self.q:
            return bool(self._x(combined, (*args, *attempt_row(attempt))).rowcount)
        if not self._x(name, args).rowcount:
            return False
        self.record_attempt(attempt)
        return True

    def delete_item(self, item_id: str) -> None:
        self._x("delete_item", (item_id,))

    def drop_run_items(self, run_id: str) -> list[str]:
        if "drop_run_work" in self.q:  # the dialect does it in one statement
            return [row[0] for row in self._x("drop_run_work", (run_id, run_id))]
        leased = [row[0] for row in self._x("leased_items", (run_id,))]
        self._x("drop_run_items", (run_id,))
        self._x("drop_run_listeners", (run_id,))
        return leased

    def release_slots(self, item_id: str) -> list[str]:
        return [row[0] for row in self._x("release_slots", (item_id,))]

    def unpark_oldest(self, key: str, now: float) -> None:
        self._x("unpark_oldest", (now, key))

    def _due(self, rows: Iterable[tuple[Any, ...]]) -> list[Due]:
        return [Due(item_from(row), keys_from(row[9])) for row in rows]

    def due_timers(self, now: float, limit: int) -> list[Due]:
        return self._due(self._x("due_timers", (now, limit)).fetchall())

    def due_items(self, now: float, limit: int) -> list[Due]:
        horizon = now + self.hooks.horizon(self.db)
        return self._due(self._x("due_items", (horizon, now, limit)).fetchall())

    def in_flight(self, keys: Sequence[str], now: float) -> Mapping[str, int]:
        sql = self.q["in_flight"].replace("{marks}", ",".join("?" * len(keys)))
        return dict(self.db.execute(sql, (*keys, now)).fetchall())

    def park(self, item_id: str, key: str) -> None:
        self._x("park", (key, PARKED, PARKED, item_id))

    def lease(self, leases: Sequence[Lease]) -> None:
        rows = [(lease, until, until, item_id) for item_id, lease, until, _ in leases]
        self.hooks.write_rows(self.db, self.q["lease"], rows)
        slots = [(key, item_id) for item_id, _, _, keys in leases for key, _ in keys]
        if slots:
            self.hooks.write_rows(self.db, self.q["hold_slot"], slots)

    def lease_if_first(
        self, item_id: str, lease: str, until: float, now: float
    ) -> Callable[[], bool]:
        horizon = now + self.hooks.horizon(self.db)
        done = self._x("lease_if_first", (lease, until, until, item_id, horizon, now))
        return lambda: done.rowcount == 1

    def note_due(self, due: float, now: float) -> None:
        self.hooks.noted_due(due, now)
