"""Rows of the SQL stores decoded into the model, and values encoded for them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from inlet.model import (
    STEP_DISCOVERY,
    Attempt,
    Event,
    ItemKind,
    Listener,
    ListenerKind,
    QueueItem,
    Run,
    RunFlow,
    RunStatus,
)
from inlet.store.engine.tx import Keys, Start


def dumps(value: Any) -> bytes:
    return orjson.dumps(value)


def json_rows(rows: Sequence[tuple[Any, ...]]) -> str:
    """Rows as one JSON array of arrays, bytes (JSON text themselves) as strings: the one
    parameter of a PostgreSQL statement written for many rows (postgres.sql)."""
    return orjson.dumps(
        [[v.decode() if isinstance(v, bytes) else v for v in row] for row in rows]
    ).decode()


def loads(blob: bytes | None) -> Any:
    return None if blob is None else orjson.loads(blob)


def event_row(event: Event) -> tuple[str, str, bytes, float]:
    return event.internal_id, event.name, dumps(event.to_wire()), event.received_at


def event_from(internal_id: str, body: bytes, received_at: float) -> Event:
    wire = orjson.loads(body)
    return Event(
        internal_id=internal_id,
        name=wire["name"],
        data=wire["data"],
        id=wire["id"],
        ts=wire["ts"],
        v=wire.get("v"),
        user=wire.get("user") or {},
        received_at=received_at,
        meta=wire.get("meta"),
    )


def run_from(row: tuple[Any, ...]) -> Run:
    return Run(
        id=row[0],
        function_slug=row[1],
        event_ids=tuple(orjson.loads(row[2])),
        status=RunStatus(row[3]),
        created_at=row[4],
        started_at=row[5],
        ended_at=row[6],
        output=loads(row[7]),
        error=loads(row[8]),
        request_version=row[9],
        force_plan=bool(row[10]),
        state_size=row[11],
        step_count=row[12],
    )


def keys_from(blob: bytes | None) -> Keys:
    return () if blob is None else tuple((k, n) for k, n in orjson.loads(blob))


def keys_blob(keys: Keys) -> bytes | None:
    return dumps([list(pair) for pair in keys]) if keys else None


def item_from(row: tuple[Any, ...]) -> QueueItem:
    return QueueItem(
        id=row[0],
        run_id=row[1],
        kind=ItemKind(row[2]),
        step_id=row[3],
        due_at=row[4],
        attempt=row[5],
        join=bool(row[6]),
        name=row[7],
        payload=loads(row[8]),
    )


def listener_row(listener: Listener, index_value: Any) -> tuple[Any, ...]:
    path, value = "", ""
    if listener.index:
        path = listener.index[0][0]
        value = dumps(index_value).decode()
    return (
        listener.id,
        listener.run_id,
        listener.kind.value,
        listener.event,
        listener.expression,
        path,
        value,
        listener.step_id,
        listener.expires_at,
    )


def listener_from(row: tuple[Any, ...]) -> Listener:
    index: tuple[tuple[str, Any], ...] = ()
    if row[5]:
        index = ((row[5], orjson.loads(row[6])),)
    return Listener(
        id=row[0],
        run_id=row[1],
        kind=ListenerKind(row[2]),
        event=row[3],
        expression=row[4],
        index=index,
        step_id=row[7],
        expires_at=row[8],
    )


def attempt_row(a: Attempt) -> tuple[Any, ...]:
    return (
        a.run_id,
        a.item_id,
        a.step_id,
        a.attempt,
        a.started_at,
        a.ended_at,
        a.outcome,
        a.status_code,
        a.name,
        None if a.output is None else dumps(a.output),
        a.error,
        a.op_step,
        a.due_at,
    )


def run_row(run: Run, flow: RunFlow) -> tuple[Any, ...]:
    """``insert_run``'s parameters."""
    return (
        run.id,
        run.function_slug,
        dumps(list(run.event_ids)),
        run.status.value,
        float(run.created_at),
        float(flow.priority),
        keys_blob(flow.concurrency),
        flow.singleton,
    )


def start_rows(
    starts: Sequence[Start], now: float
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[str, str]]]:
    """``Tx.insert_queued_runs``'s rows: each run's (``run_row`` of ``queued_run``), its
    first call's (``queue_row``) and its events' links, made straight from the planned
    runs."""
    status, at, kind = RunStatus.QUEUED.value, float(now), ItemKind.DISCOVERY.value
    runs: list[tuple[Any, ...]] = []
    items: list[tuple[Any, ...]] = []
    links: list[tuple[str, str]] = []
    for new, item_id, rank in starts:
        flow = new.flow
        keys = keys_blob(flow.concurrency)
        events = dumps(list(new.event_ids))
        priority = float(flow.priority)
        runs.append((new.id, new.function_slug, events, status, at, priority, keys, flow.singleton))
        due = float(new.due_at)
        items.append((item_id, new.id, kind, STEP_DISCOVERY, due, 1, "", None, rank, rank, keys))
        links.extend((e, new.id) for e in new.event_ids)
    return runs, items, links


def queue_row(queued: tuple[QueueItem, float, Keys]) -> tuple[Any, ...]:
    item, rank, keys = queued
    return (
        item.id,
        item.run_id,
        item.kind.value,
        item.step_id,
        float(item.due_at),
        int(item.join),
        item.name,
        None if item.payload is None else dumps(item.payload),
        float(rank),
        float(rank),
        keys_blob(keys),
    )


def run_columns(run: Run) -> tuple[Any, ...]:
    """``update_run``'s parameters: the run's columns, then its id."""
    return (
        run.status.value,
        run.started_at,
        run.ended_at,
        None if run.output is None else dumps(run.output),
        None if run.error is None else dumps(run.error),
        run.request_version,
        int(run.force_plan),
        run.step_count,
        run.state_size,
        run.id,
    )
