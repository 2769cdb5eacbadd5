"""The read model over SQL (``inlet.store.queries``), and the reads the engine's services
make (listeners for an event, cron cursors, the next due time)."""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import orjson

from inlet.expr import index_value, path_value
from inlet.model import (
    App,
    Attempt,
    Event,
    Function,
    Listener,
    Run,
    RunState,
    RunStatus,
    SkipRecord,
    Trigger,
)
from inlet.store.queries import (
    MAX_EVENT_PAGE,
    MAX_STATS_RUNS,
    EventFilter,
    EventPage,
    FlowNow,
    FunctionStats,
    GateNow,
    Page,
    QueueStats,
    ReadModel,
    RunFilter,
    RunTimes,
    TimesRow,
    Wait,
    concurrency_range,
    events_paged,
    page_size,
    paged,
    summarise_rows,
    waits_of,
)
from inlet.store.sql.outcomes import SqlOutcomes
from inlet.store.sql.rows import dumps, event_from, listener_from, loads, run_from
from inlet.store.sql.stalls import SqlStalls
from inlet.store.sql.tx import Connection, Cursor, SqlTx

T = TypeVar("T")


def like(text: str) -> str:
    """A LIKE pattern that finds ``text`` anywhere, its wildcards taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class SqlReads(SqlStalls, SqlOutcomes, ReadModel):
    """Reads on a pooled or the store thread's connection (``_call`` decides which)."""

    _q: Mapping[str, str]

    @abc.abstractmethod
    async def _call(self, fn: Callable[..., T], *args: Any) -> T: ...

    @property
    @abc.abstractmethod
    def _conn(self) -> Connection: ...

    @abc.abstractmethod
    def _x(self, name: str, args: Sequence[Any] = ()) -> Cursor: ...

    @abc.abstractmethod
    def _tx(self) -> SqlTx: ...

    @abc.abstractmethod
    def cached_event(self, db: Connection, internal_id: str) -> Event | None: ...

    @abc.abstractmethod
    def id_list(self, ids: Sequence[str]) -> Any: ...

    def _listened(self, names: set[str]) -> bool:
        """Whether some listener may wait for one of ``names`` (True when unsure)."""
        return True

    async def list_apps(self) -> list[App]:
        return await self._call(self._list_apps)

    def _list_apps(self) -> list[App]:
        return [App(*row) for row in self._x("list_apps").fetchall()]

    async def list_functions(self) -> list[Function]:
        return await self._call(self._list_functions)

    def _list_functions(self) -> list[Function]:
        return [
            Function(
                slug=r[0],
                app_url=r[1],
                name=r[2],
                url=r[3],
                triggers=tuple(Trigger(*t) for t in orjson.loads(r[4])),
                retries=r[5],
                config=orjson.loads(r[6]),
            )
            for r in self._x("list_functions").fetchall()
        ]

    async def skips(self, event_id: str) -> list[SkipRecord]:
        return await self._call(self._skips, event_id)

    def _skips(self, event_id: str) -> list[SkipRecord]:
        return [SkipRecord(event_id, r[0], r[1]) for r in self._x("skips", (event_id, event_id))]

    async def find_listeners(self, events: Sequence[Event]) -> dict[str, list[Listener]]:
        # Most events (every run's inngest/function.finished, to begin with) have a name no
        # listener ever waited for: a backend that knows answers those without a trip to
        # the store thread.
        if not self._listened({event.name for event in events}):
            return {}
        return await self._call(self._find_listeners, list(events))

    def _find_listeners(self, events: list[Event]) -> dict[str, list[Listener]]:
        paths: dict[str, list[str]] = {}
        found: dict[str, list[Listener]] = {}
        for event in events:
            if event.name not in paths:
                rows = self._x("distinct_paths", (event.name, event.name))
                paths[event.name] = [r[0] for r in rows]
            if not paths[event.name]:
                continue
            wire = event.to_wire()
            hits: list[tuple[Any, ...]] = []
            for path in paths[event.name]:
                key = ""
                if path:
                    value = index_value(path_value(wire, path))
                    if value is None:
                        continue
                    key = dumps(value).decode()
                hits.extend(self._x("listeners_at", (event.name, path, key)))
            if hits:
                found[event.internal_id] = [listener_from(r) for r in hits]
        return found

    async def cron_cursors(self) -> dict[tuple[str, str], float]:
        return await self._call(self._cron_cursors)

    def _cron_cursors(self) -> dict[tuple[str, str], float]:
        return {(r[0], r[1]): r[2] for r in self._x("cron_cursors")}

    async def get_event(self, internal_id: str) -> Event | None:
        return await self._call(self._get_event, internal_id)

    def _get_event(self, internal_id: str) -> Event | None:
        return self.cached_event(self._conn, internal_id)

    async def list_events(self, name: str | None, limit: int) -> list[Event]:
        return await self._call(self._list_events, name, limit)

    def _list_events(self, name: str | None, limit: int) -> list[Event]:
        if name is None:
            rows = self._x("list_events", (limit,)).fetchall()
        else:
            rows = self._x("list_events_named", (name, limit)).fetchall()
        return [event_from(*row) for row in rows]

    async def events(
        self, where: EventFilter, *, limit: int = 100, after: str | None = None
    ) -> EventPage:
        return await self._call(self._events_page, where, page_size(limit, MAX_EVENT_PAGE), after)

    def _events_page(self, where: EventFilter, size: int, after: str | None) -> EventPage:
        clauses: list[str] = []
        args: list[Any] = []
        for clause, value in (
            ("name = ?", where.name),
            ("received_at >= ?", where.received_after),
            ("received_at < ?", where.received_before),
            ("internal_id < ?", after),
        ):
            if value is not None:
                clauses.append(clause)
                args.append(value)
        clause = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        sql = self._q["events_page"].replace("{where}", clause)
        rows = self._conn.execute(sql, (*args, size + 1)).fetchall()
        return events_paged([event_from(*row) for row in rows], size)

    async def events_by_id(self, internal_ids: Sequence[str]) -> dict[str, Event]:
        wanted = list(dict.fromkeys(internal_ids))
        return await self._call(self._events_by_id, wanted) if wanted else {}

    def _events_by_id(self, wanted: list[str]) -> dict[str, Event]:
        sql = self._q["events_by_id"].replace("{marks}", ",".join("?" * len(wanted)))
        events = (event_from(*row) for row in self._conn.execute(sql, wanted).fetchall())
        return {e.internal_id: e for e in events}

    async def stuck_runs(self, created_before: float, limit: int = 100) -> list[Run]:
        rows = await self._call(self._rows_of, "stuck_runs", (created_before, limit))
        return [run_from(row) for row in rows]

    def _rows_of(self, name: str, args: Sequence[Any]) -> list[Any]:
        return list(self._x(name, args).fetchall())

    async def attempt_counts(self, run_ids: Sequence[str]) -> dict[str, int]:
        if not run_ids:
            return {}
        return await self._call(self._attempt_counts, list(dict.fromkeys(run_ids)))

    def _attempt_counts(self, run_ids: list[str]) -> dict[str, int]:
        sql = self._q["attempt_counts"].replace("{marks}", ",".join("?" * len(run_ids)))
        return {run_id: int(n) for run_id, n in self._conn.execute(sql, run_ids).fetchall()}

    async def run_waits(self, run_id: str) -> list[Wait]:
        return await self._call(self._run_waits, run_id)

    def _run_waits(self, run_id: str) -> list[Wait]:
        listeners = self._x("run_listeners", (run_id,)).fetchall()
        timers = [
            (step, due, name, loads(payload))
            for step, due, name, payload in self._x("run_timers", (run_id,)).fetchall()
        ]
        return waits_of(listeners, timers)

    async def flow_now(self, function_slug: str, now: float) -> FlowNow:
        return await self._call(self._flow_now, function_slug, now)

    def _flow_now(self, function_slug: str, now: float) -> FlowNow:
        keys = concurrency_range(function_slug)
        in_flight = dict(self._x("flow_in_flight", keys).fetchall())
        waiting = dict(self._x("flow_waiting", keys).fetchall())
        delayed = self._x("flow_delayed", (function_slug, now)).fetchone()[0]
        gates = tuple(GateNow(*row) for row in self._x("flow_gates", (function_slug,)))
        return FlowNow(in_flight, waiting, int(delayed), gates)

    async def get_run(self, run_id: str) -> Run | None:
        return await self._call(self._get_run, run_id)

    def _get_run(self, run_id: str) -> Run | None:
        row = self._x("run_row", (run_id,)).fetchone()
        return None if row is None else run_from(row)

    async def runs_for_event(self, event_id: str) -> list[Run]:
        return await self._call(self._runs_for_event, event_id)

    def _runs_for_event(self, event_id: str) -> list[Run]:
        return [run_from(row) for row in self._x("runs_for_event", (event_id,)).fetchall()]

    async def list_runs(
        self,
        function_slug: str | None,
        *,
        active: bool,
        created_after: float | None = None,
        created_before: float | None = None,
        limit: int = 1000,
    ) -> list[Run]:
        return await self._call(
            self._list_runs, function_slug, active, created_after, created_before, limit
        )

    def _list_runs(
        self,
        function_slug: str | None,
        active: bool,
        created_after: float | None,
        created_before: float | None,
        limit: int,
    ) -> list[Run]:
        where: list[str] = []
        args: list[Any] = []
        if function_slug is not None:
            where.append("function_slug = ?")
            args.append(function_slug)
        if active:
            where.append("status IN ('QUEUED', 'RUNNING')")
        if created_after is not None:
            where.append("created_at >= ?")
            args.append(created_after)
        if created_before is not None:
            where.append("created_at <= ?")
            args.append(created_before)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        sql = self._q["list_runs"].replace("{where}", clause)
        rows = self._conn.execute(sql, (*args, limit)).fetchall()
        return [run_from(row) for row in rows]

    async def run_state(self, run_id: str) -> RunState | None:
        return await self._call(self._run_state, run_id)

    def _run_state(self, run_id: str) -> RunState | None:
        found = self._run_states([run_id])
        return found[0] if found else None

    async def run_states(self, run_ids: Sequence[str]) -> list[RunState]:
        return await self._call(self._run_states, list(run_ids))

    def _run_states(self, run_ids: list[str]) -> list[RunState]:
        # Read, not locked (the engine's run() locks a run it is about to change); three
        # statements for any number of runs.
        tx = self._tx()
        loaded, pending = tx.run_states_pending(run_ids)
        if not loaded:
            return []
        if pending is None:
            pending = dict(self._x("pending_counts", (self.id_list(list(loaded)),)).fetchall())
        states = []
        for run_id in run_ids:
            found = loaded.get(run_id)
            if found is None:
                continue
            (row, memos), events = found, []
            for event_id in row.run.event_ids:
                event = tx.event(event_id)
                if event is not None:
                    events.append(event)
            states.append(
                RunState(row.run, tuple(events), memos, pending_items=pending.get(run_id, 0))
            )
        return states

    async def history(self, run_id: str) -> list[Attempt]:
        return await self._call(self._history, run_id)

    def _history(self, run_id: str) -> list[Attempt]:
        return [
            Attempt(
                run_id=r[0],
                item_id=r[1],
                step_id=r[2],
                attempt=r[3],
                started_at=r[4],
                ended_at=r[5],
                outcome=r[6],
                status_code=r[7],
                name=r[8],
                output=loads(r[9]),
                error=r[10],
                op_step=r[11],
                due_at=r[12],
            )
            for r in self._x("history", (run_id,)).fetchall()
        ]

    async def next_due(self) -> float | None:
        return await self._call(self._next_due)

    def _next_due(self) -> float | None:
        row = self._x("next_due").fetchone()
        return None if row[0] is None else float(row[0])

    def _where(
        self, where: RunFilter, *, statuses: bool = True, after: str | None = None
    ) -> tuple[str, list[Any]]:
        """The WHERE clause of a run filter, from fixed clauses, and its values."""
        clauses: list[str] = []
        args: list[Any] = []
        if where.function_slug is not None:
            clauses.append("function_slug = ?")
            args.append(where.function_slug)
        if where.functions:
            clauses.append(f"function_slug IN ({','.join('?' * len(where.functions))})")
            args.extend(where.functions)
        if statuses and where.statuses:
            clauses.append(f"status IN ({','.join('?' * len(where.statuses))})")
            args.extend(s.value for s in where.statuses)
        if where.created_after is not None:
            clauses.append("created_at >= ?")
            args.append(where.created_after)
        if where.created_before is not None:
            clauses.append("created_at < ?")
            args.append(where.created_before)
        if where.text:
            clauses.append(self._text_condition())
            args.extend([like(where.text)] * 4)
        if after is not None:
            clauses.append("id < ?")
            args.append(after)
        return (f"WHERE {' AND '.join(clauses)}" if clauses else ""), args

    def _text_condition(self) -> str:
        """The condition of ``runs_matching_text``, on the page's own scan of runs.

        As ``id IN (that query)`` both databases ran the search over every run before
        reading the page; as a condition of the newest-first scan it stops once the page
        is full. A text that few runs contain still reads every run: no index serves a
        substring search."""
        return f"({self._q['runs_matching_text'].split('WHERE', 1)[1].strip()})"

    async def runs(self, where: RunFilter, *, limit: int = 50, after: str | None = None) -> Page:
        return await self._call(self._runs, where, page_size(limit), after)

    def _runs(self, where: RunFilter, limit: int, after: str | None) -> Page:
        clause, args = self._where(where, after=after)
        sql = self._q["list_runs"].replace("{where}", clause)
        rows = self._conn.execute(sql, (*args, limit + 1)).fetchall()
        return paged([run_from(row) for row in rows], limit)

    async def run_counts(self, where: RunFilter) -> dict[RunStatus, int]:
        return await self._call(self._run_counts, where)

    def _run_counts(self, where: RunFilter) -> dict[RunStatus, int]:
        clause, args = self._where(where, statuses=False)
        sql = self._q["run_counts"].replace("{where}", clause)
        return {RunStatus(status): n for status, n in self._conn.execute(sql, args)}

    async def run_times(
        self, function_slug: str | None, since: float, until: float
    ) -> list[RunTimes]:
        return await self._call(self._run_times, function_slug, since, until)

    def _run_times(self, function_slug: str | None, since: float, until: float) -> list[RunTimes]:
        rows = self._run_times_rows(function_slug, since, until)
        return [RunTimes(r[0], RunStatus(r[1]), r[2], r[3], r[4]) for r in rows]

    async def function_stats(
        self, function_slug: str | None, since: float, until: float, width: float
    ) -> list[FunctionStats]:
        # The rows as read, without a RunTimes each: a month of a busy function is tens of
        # thousands of runs, and building objects for them cost more than reading them.
        rows = await self._call(self._run_times_rows, function_slug, since, until)
        return summarise_rows(rows, since, until, width)

    def _run_times_rows(
        self, function_slug: str | None, since: float, until: float
    ) -> list[TimesRow]:
        where = RunFilter(function_slug=function_slug, created_after=since, created_before=until)
        clause, args = self._where(where)
        sql = self._q["run_times"].replace("{where}", clause)
        return self._conn.execute(sql, (*args, MAX_STATS_RUNS)).fetchall()

    async def queue_stats(self, now: float) -> list[QueueStats]:
        return await self._call(self._queue_stats, now)

    def _queue_stats(self, now: float) -> list[QueueStats]:
        found: dict[str, dict[str, Any]] = {}

        def of(slug: str) -> dict[str, Any]:
            return found.setdefault(slug, {})

        for slug, due, oldest in self._x("queue_due", (now,)).fetchall():
            of(slug).update(due=int(due), oldest_due_at=float(oldest))
        for slug, parked in self._x("queue_parked").fetchall():
            of(slug)["parked"] = int(parked)
        for slug, waiting in self._x("queue_waiting").fetchall():
            of(slug)["waiting"] = int(waiting)
        for slug, delayed in self._x("queue_delayed", (now,)).fetchall():
            of(slug)["delayed"] = int(delayed)
        for slug, status, n in self._x("active_runs").fetchall():
            of(slug)[str(status).lower()] = int(n)
        return [QueueStats(slug, **found[slug]) for slug in sorted(found)]

    async def schema_version(self) -> int | None:
        return await self._call(self._schema_version)

    def _schema_version(self) -> int | None:
        # Not a named query: the migration runner makes this table (sqlite.py,
        # postgres.py), not the migrations, so it is no part of the schema they build.
        row = self._conn.execute("SELECT max(version) FROM schema_version").fetchone()
        return None if row is None or row[0] is None else int(row[0])
