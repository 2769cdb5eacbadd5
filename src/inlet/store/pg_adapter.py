"""A psycopg connection in the shape the SQL store's shared logic uses (sqlite3's), with
pipeline mode for write transactions."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import psycopg

from inlet.store.sql.rows import json_rows
from inlet.store.sql.tx import Alone, Cursor


@functools.lru_cache(maxsize=1024)
def translate(sql: str) -> bytes:
    """sqlite3's ``?`` placeholders as psycopg's ``%s`` (and a literal ``%`` escaped); the
    store's statements are a small set (a few vary in length), so each is translated once."""
    return sql.replace("%", "%%").replace("?", "%s").encode()


class Result:
    """A statement's cursor while its result may still be on its way (pipeline mode).

    Fetching syncs the pipeline by itself; ``rowcount`` is only known once the result is
    in, so asking for it syncs too. A statement nobody reads costs no round trip."""

    __slots__ = ("_adapter", "_cur")

    def __init__(self, cur: psycopg.Cursor[Any], adapter: Adapter) -> None:
        self._cur = cur
        self._adapter = adapter

    @property
    def rowcount(self) -> int:
        if self._cur.rowcount < 0:
            self._adapter.sync()
        return self._cur.rowcount

    def fetchone(self) -> Any:
        self._adapter.flush()
        return self._cur.fetchone()

    def fetchall(self) -> list[Any]:
        self._adapter.flush()
        return self._cur.fetchall()

    def __iter__(self) -> Iterator[Any]:
        self._adapter.flush()
        return iter(self._cur)


class AskedAhead(set[str]):
    """The first column of a statement's rows, read when first asked whether it holds a
    value (``in``; other uses see it empty until then). The statement is sent before its
    answer is needed: in a pipeline it is answered along with the next statement whose
    result is read, so it costs no round trip of its own."""

    __slots__ = ("_rows",)

    def __init__(self, rows: Cursor) -> None:
        super().__init__()
        self._rows: Cursor | None = rows

    def __contains__(self, value: object) -> bool:
        rows, self._rows = self._rows, None
        if rows is not None:
            self.update(row[0] for row in rows)
        return super().__contains__(value)


class Gathered:
    """The rows gathered for one statement written for many (its one parameter a JSON
    array of them; it answers one row per given row, in their order), until it is sent.
    A row that no other joins goes out as its ``alone`` statement instead, which answers
    the same row: PostgreSQL reads a row's values cheaper than its JSON."""

    __slots__ = ("_adapter", "_answers", "_sent", "alone", "rows", "sql")

    def __init__(self, adapter: Adapter, sql: str, alone: Alone) -> None:
        self._adapter = adapter
        self.sql = sql
        self.alone = alone
        self.rows: list[tuple[Any, ...]] = []
        self._sent: Any = None
        self._answers: list[Any] | None = None

    def send(self, conn: psycopg.Connection[Any]) -> None:
        if len(self.rows) == 1:
            sql, args = self.alone
            self._sent = conn.execute(translate(sql), args)
        else:
            self._sent = conn.execute(translate(self.sql), (json_rows(self.rows),))

    def answer(self, k: int) -> Any:
        """The answer to the ``k``th row (sending the statement first if it waits)."""
        if self._answers is None:
            self._adapter.flush()
            self._answers = self._sent.fetchall()
        answers = self._answers
        return answers[k] if k < len(answers) else None  # an ``alone`` may answer no row


class Adapter:
    """A psycopg connection in the shape the shared logic uses (sqlite3's).

    Inside a write transaction the connection is in pipeline mode: statements are sent
    without waiting for their answers until one is needed, which saves most of a step's
    round trips (a statement costs ~170 us of wall time alone, ~37 us pipelined, measured
    here). An error then surfaces at the next sync, perhaps in another job of the batch; the
    store thread replays a failed batch job by job, so each failure lands on its own job."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn
        self._pipeline: contextlib.AbstractContextManager[psycopg.Pipeline] | None = None
        self._sync: Callable[[], None] | None = None
        self._gathering: Gathered | None = None

    def gather(self, sql: str, row: tuple[Any, ...], alone: Alone) -> Callable[[], Any]:
        """``row`` for ``sql``, a statement written for many rows whose rows do not touch
        each other's: the rows given for it one after another go out as one statement,
        sent before this connection next sends or reads anything else, so the order of
        what it runs is kept; ``alone`` if no other row joins it. Returns how to ask for
        the row's answer."""
        gathering = self._gathering
        if gathering is None or gathering.sql is not sql:
            self.flush()
            gathering = self._gathering = Gathered(self, sql, alone)
        gathering.rows.append(row)
        return functools.partial(gathering.answer, len(gathering.rows) - 1)

    def flush(self) -> None:
        """Send the gathered statement, if one waits."""
        gathering, self._gathering = self._gathering, None
        if gathering is not None:
            gathering.send(self.conn)

    def start_pipeline(self) -> None:
        manager = self.conn.pipeline()
        self._sync = manager.__enter__().sync
        self._pipeline = manager

    def end_pipeline(self, *, check: bool) -> None:
        """Leave pipeline mode: with ``check``, wait for every answer and raise the first
        error; without, discard what is pending (the transaction is rolled back anyway)."""
        if check:
            self.flush()
        self._gathering = None
        manager, self._pipeline, self._sync = self._pipeline, None, None
        if manager is None:
            return
        if check:
            manager.__exit__(None, None, None)
        else:
            with contextlib.suppress(Exception):
                manager.__exit__(None, None, None)

    def sync(self) -> None:
        self.flush()
        if self._sync is not None:
            self._sync()

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Cursor:
        self.flush()
        if not parameters:
            cur = self.conn.execute(sql.encode())
        else:
            cur = self.conn.execute(translate(sql), parameters)
        return cur if self._pipeline is None else Result(cur, self)

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Cursor:
        self.flush()
        cur = self.conn.cursor()
        cur.executemany(translate(sql), list(parameters))
        return cur
