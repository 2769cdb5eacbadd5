"""The root fields of ``/v0/gql`` and the shapes of their types, read from the store.

Resolvers return plain dicts keyed by the schema's field names. A field that costs a store
read (a run's trace, an event's runs) is a callable instead of a value: graphql-core's
default resolver calls it only when the query selects it, so a list of runs does not read
every trace. Reads go through the store's read model (``store.queries``); a read that
several fields or several runs of one list need is made once (:class:`Once`), e.g. the
events of every run an event started are one ``run_states`` read.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Generic, TypeVar

import graphql
import orjson

from inlet.api.graphql.trace import Span, build_trace, parse_output_id, span_output
from inlet.api.render import iso
from inlet.model import Event, Function, Run, RunState, RunStatus
from inlet.scheduler.service import SCHEDULED
from inlet.store import Store
from inlet.store.metadata import RunMetadata

INTERNAL_EVENT_PREFIX = "inngest/"
MAX_EVENTS = 1000
# Inngest's dev server reports one environment with a fixed id.
ENV_ID = "00000000-0000-4000-b000-000000000000"

Fields = dict[str, Any]
Resolver = Callable[..., Awaitable[Any]]
T = TypeVar("T")


class Once(Generic[T]):
    """A read made at most once, on first use, however many fields await it.

    graphql-core resolves the fields of an object concurrently, so a plain "loaded" flag
    would let two fields both read (and a shared list fill twice); the first caller starts
    one task and every caller awaits that task.
    """

    def __init__(self, read: Callable[[], Awaitable[T]]) -> None:
        self._read = read
        self._task: asyncio.Future[T] | None = None

    async def __call__(self) -> T:
        if self._task is None:
            self._task = asyncio.ensure_future(self._read())
        return await self._task


class Resolvers:
    """Root fields over one store and a lookup of the registered functions by slug."""

    def __init__(self, store: Store, function: Callable[[str], Function | None]) -> None:
        self._store = store
        self._function_of = function

    def root(self) -> dict[str, Resolver]:
        """The ``root_value`` for graphql-core: each root field by its schema name."""
        fields: dict[str, Resolver] = {
            "run": self.run,
            "runTrace": self.run_trace,
            "runTrigger": self.run_trigger,
            "runTraceSpanOutputByID": self.span_output,
            "event": self.event,
            "events": self.events,
            "eventV2": self.event_v2,
            "stream": self.stream,
            "functionRun": self.function_run,
        }
        # graphql-core's default resolver calls a callable field with (info, **args).
        return {name: _drop_info(fn) for name, fn in fields.items()}

    # Root fields, with the schema's argument names

    async def run(self, runID: str) -> Fields | None:
        run = await self._store.get_run(runID)
        return None if run is None else self._run_v2(run)

    async def run_trace(self, runID: str) -> Fields:
        trace = await self._trace(runID)
        if trace is None:
            raise graphql.GraphQLError(f"run {runID!r} not found")
        return trace

    async def run_trigger(self, runID: str) -> Fields:
        state = await self._store.run_state(runID)
        if state is None:
            raise graphql.GraphQLError(f"run {runID!r} not found")
        events = state.events
        names = {e.name for e in events}
        cron = _cron(events[0]) if events else None
        return {
            "eventName": next(iter(names)) if len(names) == 1 and cron is None else None,
            "IDs": [e.internal_id for e in events],
            "payloads": [_json_text(e.to_wire()) for e in events],
            "timestamp": iso(min((e.ts / 1000 for e in events), default=state.run.created_at)),
            "isBatch": len(events) > 1,
            "batchID": None,
            "cron": cron,
        }

    async def span_output(self, outputID: str) -> Fields:
        parsed = parse_output_id(outputID)
        if parsed is None:
            raise graphql.GraphQLError(
                f"outputID {outputID!r} is not an output id of this server; "
                "take one from a span's outputID"
            )
        run_id, step_id = parsed
        state = await self._store.run_state(run_id)
        output = span_output(state, step_id) if state is not None else None
        if output is None:
            raise graphql.GraphQLError(f"no output recorded for {outputID!r} (yet)")
        return {"input": None, "data": output.data, "error": output.error}

    async def event(self, query: Fields) -> Fields:
        event_id = str(query["eventId"])
        event = await self._store.get_event(event_id)
        if event is None:
            raise graphql.GraphQLError(f"event {event_id!r} not found")
        return self._event_v1(event)

    async def events(self, query: Fields) -> list[Fields]:
        events = await self._store.list_events(None, MAX_EVENTS)
        last = query.get("lastEventId")
        if last:
            events = [e for e in events if e.internal_id < str(last)]
        return [self._event_v1(e) for e in events]

    async def event_v2(self, id: str) -> Fields:
        event = await self._store.get_event(id)
        if event is None:
            raise graphql.GraphQLError(f"event {id!r} not found")

        found = self._event_runs(event.internal_id)

        async def runs() -> list[Fields]:
            return [self._run_v2(r) for r in await found()]

        return {
            "envID": ENV_ID,
            "id": event.internal_id,
            "idempotencyKey": event.id,
            "name": event.name,
            "occurredAt": iso(event.ts / 1000),
            "raw": _json_text(event.to_wire()),
            "receivedAt": iso(event.received_at),
            "runs": _lazy(runs),
            "version": event.v,
        }

    async def stream(self, query: Fields) -> list[Fields]:
        limit = max(int(query.get("limit") or 0), 0)
        internal = bool(query.get("includeInternalEvents"))
        after, before = query.get("after"), query.get("before")
        events = await self._store.list_events(None, MAX_EVENTS)
        items: list[Fields] = []
        for event in events:
            if len(items) >= limit:
                break
            if not internal and event.name.startswith(INTERNAL_EVENT_PREFIX):
                continue
            if after and event.internal_id <= str(after):
                continue
            if before and event.internal_id >= str(before):
                continue
            items.append(self._stream_item(event))
        return items

    async def function_run(self, query: Fields) -> Fields | None:
        run = await self._store.get_run(str(query["functionRunId"]))
        return None if run is None else self._run_v1(run)

    # Shapes

    def _run_v2(self, run: Run) -> Fields:
        async def trace() -> Fields | None:
            return await self._trace(run.id)

        return {
            "id": run.id,
            "functionID": run.function_slug,
            "function": self._function(run.function_slug),
            "traceID": _trace_id(run.id),
            "queuedAt": iso(run.created_at),
            "startedAt": iso(run.started_at),
            "endedAt": iso(run.ended_at) if run.status.ended else None,
            "status": run.status.value,
            "triggerIDs": list(run.event_ids),
            "eventName": None,
            "isBatch": len(run.event_ids) > 1,
            "cronSchedule": None,
            "output": _json_text(run.output) if run.status.ended else None,
            "trace": _lazy(trace),
            "hasAI": False,
        }

    def _runs_v1(self, runs: Sequence[Run]) -> list[Fields]:
        """Runs of one list, whose events (if selected) are one read for all of them."""
        states = self._states([r.id for r in runs])
        return [self._run_v1(r, states) for r in runs]

    def _states(self, run_ids: list[str]) -> Once[dict[str, RunState]]:
        async def read() -> dict[str, RunState]:
            return {s.run.id: s for s in await self._store.run_states(run_ids)}

        return Once(read)

    def _run_v1(self, run: Run, states: Once[dict[str, RunState]] | None = None) -> Fields:
        shared = states or self._states([run.id])

        async def events() -> list[Fields]:
            state = (await shared()).get(run.id)
            return [self._event_v1(e) for e in state.events] if state is not None else []

        async def event() -> Fields | None:
            found = await events()
            return found[0] if found else None

        return {
            "id": run.id,
            "functionID": run.function_slug,
            "function": self._function(run.function_slug),
            "workspace": {"id": "local"},
            "event": _lazy(event),
            "events": _lazy(events),
            "status": run.status.value,
            "startedAt": iso(run.started_at or run.created_at),
            "finishedAt": iso(run.ended_at) if run.status.ended else None,
            "output": _json_text(run.output) if run.status.ended else None,
            "eventID": run.event_ids[0] if run.event_ids else "",
            "cron": None,
        }

    def _event_v1(self, event: Event) -> Fields:
        # Four fields need the event's runs: one read, on first use, shared by them.
        runs = self._event_runs(event.internal_id)

        async def function_runs() -> list[Fields]:
            return self._runs_v1(await runs())

        async def status() -> str:
            return _event_status(_counts(await runs()))

        async def total() -> int:
            return len(await runs())

        async def pending() -> int:
            counts = _counts(await runs())
            return sum(n for status, n in counts.items() if not status.ended)

        return {
            "id": event.internal_id,
            "externalID": event.id,
            "workspace": {"id": "local"},
            "name": event.name,
            "createdAt": iso(event.ts / 1000),
            "payload": _json_text(event.data),
            "schema": None,
            "status": _lazy(status),
            "pendingRuns": _lazy(pending),
            "totalRuns": _lazy(total),
            "raw": _json_text(event.to_wire()),
            "functionRuns": _lazy(function_runs),
        }

    def _event_runs(self, event_id: str) -> Once[list[Run]]:
        async def read() -> list[Run]:
            return await self._store.runs_for_event(event_id)

        return Once(read)

    def _stream_item(self, event: Event) -> Fields:
        found = self._event_runs(event.internal_id)

        async def runs() -> list[Fields]:
            return self._runs_v1(await found())

        cron = _cron(event)
        return {
            "id": event.internal_id,
            "trigger": cron or event.name,
            "type": "EVENT" if cron is None else "CRON",
            "createdAt": iso(event.ts / 1000),
            "runs": _lazy(runs),
            "inBatch": False,
        }

    def _function(self, slug: str) -> Fields:
        function = self._function_of(slug)
        return {
            "id": slug,
            "slug": slug,
            "name": function.name if function is not None else slug,
            "url": function.url if function is not None else "",
            "appID": function.app_url if function is not None else "",
        }

    async def _trace(self, run_id: str) -> Fields | None:
        state = await self._store.run_state(run_id)
        if state is None:
            return None
        history = await self._store.history(run_id)
        function = self._function_of(state.run.function_slug)
        name = function.name if function is not None else state.run.function_slug
        trace = build_trace(state, history, name)
        metadata = _metadata_by_span(trace, await self._store.run_metadata(run_id))
        return _span_fields(trace, run_id, metadata)


def _metadata_by_span(root: Span, rows: Sequence[RunMetadata]) -> dict[str, list[Fields]]:
    """A run's metadata (``POST /v1/runs/{id}/metadata``, step opcodes) by the span it
    belongs to: the run's own on the root span (``""``), a step's on that step's span. A
    step is named by its hashed id (opcodes) or the id the user gave it (the API, e.g.
    ``client.score({stepId})``), whose SHA-1 is the hashed id."""
    spans: list[Span] = []
    stack = [root]
    while stack:
        span = stack.pop()
        spans.append(span)
        stack.extend(span.children)
    out: dict[str, list[Fields]] = {}
    for row in rows:
        key = "" if not row.step_id else _span_of(spans, row.step_id)
        if key is None:
            continue
        scope = "run" if key == "" else "step"
        out.setdefault(key, []).append(
            {
                "scope": scope,
                "kind": row.kind,
                "values": dict(row.values),
                "updatedAt": iso(row.updated_at),
            }
        )
    return out


def _span_of(spans: Sequence[Span], step_id: str) -> str | None:
    hashed = hashlib.sha1(step_id.encode()).hexdigest()  # how the SDKs hash a step id
    for wanted in (step_id, hashed):
        for span in spans:
            if span.step_id == wanted:
                return wanted
    return None


def _span_fields(span: Span, run_id: str, metadata: Mapping[str, list[Fields]]) -> Fields:
    duration = None
    if span.started_at is not None and span.ended_at is not None:
        duration = round((span.ended_at - span.started_at) * 1000)
    return {
        "runID": run_id,
        "spanID": span.span_id,
        "traceID": _trace_id(run_id),
        "name": span.name,
        "status": span.status,
        "attempts": span.attempts,
        "duration": duration,
        "outputID": span.output_id,
        "queuedAt": iso(span.queued_at),
        "startedAt": iso(span.started_at),
        "endedAt": iso(span.ended_at),
        "childrenSpans": [_span_fields(c, run_id, metadata) for c in span.children],
        "stepOp": span.step_op,
        "stepID": span.step_id,
        "stepType": span.step_type,
        "isRoot": span.is_root,
        "parentSpanID": span.parent_span_id,
        "isUserland": False,
        "debugPaused": False,
        "metadata": metadata.get("" if span.is_root else span.step_id or "-", []),
    }


def _counts(runs: Sequence[Run]) -> dict[RunStatus, int]:
    """Runs by status, the shape of the read model's ``run_counts``."""
    counts: dict[RunStatus, int] = {}
    for run in runs:
        counts[run.status] = counts.get(run.status, 0) + 1
    return counts


def _event_status(counts: dict[RunStatus, int]) -> str:
    total = sum(counts.values())
    if not total:
        return "NO_FUNCTIONS"
    if any(n for status, n in counts.items() if not status.ended):
        return "RUNNING"
    failed = counts.get(RunStatus.FAILED, 0)
    if failed == total:
        return "FAILED"
    return "PARTIALLY_FAILED" if failed else "COMPLETED"


def _cron(event: Event) -> str | None:
    """The schedule of a cron run's ``inngest/scheduled.timer`` event."""
    cron = event.data.get("cron") if event.name == SCHEDULED else None
    return cron if isinstance(cron, str) else None


def _trace_id(run_id: str) -> str:
    return run_id.encode().hex()[:32].ljust(32, "0")


def _json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


def _lazy(fn: Callable[[], Awaitable[Any]]) -> Resolver:
    """A field computed only if selected (the default resolver calls it with ``info``)."""

    def resolve(info: Any, **args: Any) -> Awaitable[Any]:
        return fn()

    return resolve


def _drop_info(fn: Resolver) -> Resolver:
    def resolve(info: Any, **args: Any) -> Awaitable[Any]:
        return fn(**args)

    return resolve
