"""``POST /v0/gql``: the part of Inngest's dev-server GraphQL API that SDK test suites and
tools query, under Inngest's names and types (``pkg/coreapi/*.graphql`` of the Go server).

A thin reader over the same run history as the REST API: the schema is parsed once by
graphql-core, resolvers return plain dicts, and fields that cost a store read (a run's
trace, an event's runs) are callables, which graphql-core's default resolver calls only
when the query selects them.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import graphql
import orjson
from starlette.requests import Request
from starlette.responses import Response

from inlet.api.render import iso, json_response
from inlet.api.trace import Span, build_trace, parse_output_id, span_output
from inlet.errors import BadRequest
from inlet.model import Event, Run, RunStatus
from inlet.scheduler.service import SCHEDULED

if TYPE_CHECKING:
    from inlet.api.app import Server

log = logging.getLogger("inlet.api.graphql")

INTERNAL_EVENT_PREFIX = "inngest/"
MAX_EVENTS = 1000
# Inngest's dev server reports one environment with a fixed id.
ENV_ID = "00000000-0000-4000-b000-000000000000"

SDL = """
scalar Time
scalar ULID
scalar UUID
scalar Bytes
scalar Unknown
scalar SpanMetadataKind
scalar SpanMetadataScope
scalar SpanMetadataValues

type Query {
  run(runID: String!): FunctionRunV2
  runTrace(runID: String!): RunTraceSpan!
  runTrigger(runID: String!): RunTraceTrigger!
  runTraceSpanOutputByID(outputID: String!): RunTraceSpanOutput!
  event(query: EventQuery!): Event
  events(query: EventsQuery!): [Event!]
  eventV2(id: ULID!): EventV2!
  stream(query: StreamQuery!): [StreamItem!]!
  functionRun(query: FunctionRunQuery!): FunctionRun
}

input EventQuery {
  workspaceId: ID! = "local"
  eventId: ID!
}

input EventsQuery {
  workspaceId: ID! = "local"
  lastEventId: ID
}

input FunctionRunQuery {
  workspaceId: ID! = "local"
  functionRunId: ID!
}

input StreamQuery {
  after: ID
  before: ID
  limit: Int! = 20
  includeInternalEvents: Boolean
}

type Workspace {
  id: ID!
}

type Function {
  id: String!
  name: String!
  slug: String!
  url: String!
  appID: String!
}

enum FunctionRunStatus {
  COMPLETED
  FAILED
  CANCELLED
  RUNNING
  QUEUED
  SKIPPED
}

enum RunTraceSpanStatus {
  FAILED
  QUEUED
  RUNNING
  COMPLETED
  WAITING
  CANCELLED
  SKIPPED
}

enum StepOp {
  INVOKE
  RUN
  SLEEP
  WAIT_FOR_EVENT
  AI_GATEWAY
  WAIT_FOR_SIGNAL
}

enum StreamType {
  EVENT
  CRON
}

enum EventStatus {
  RUNNING
  COMPLETED
  PAUSED
  FAILED
  PARTIALLY_FAILED
  NO_FUNCTIONS
}

type FunctionRunV2 {
  id: ULID!
  functionID: String!
  function: Function!
  traceID: String!
  queuedAt: Time!
  startedAt: Time
  endedAt: Time
  status: FunctionRunStatus!
  triggerIDs: [ULID!]!
  eventName: String
  isBatch: Boolean!
  cronSchedule: String
  output: Bytes
  trace(preview: Boolean): RunTraceSpan
  hasAI: Boolean!
}

type FunctionRun {
  id: ID!
  functionID: String!
  function: Function
  workspace: Workspace
  event: Event
  events: [Event!]!
  status: FunctionRunStatus
  startedAt: Time
  finishedAt: Time
  output: String
  eventID: ID!
  cron: String
}

type SpanMetadata {
  scope: SpanMetadataScope!
  kind: SpanMetadataKind!
  values: SpanMetadataValues!
  updatedAt: Time!
}

type RunTraceSpan {
  runID: ULID!
  spanID: String!
  traceID: String!
  name: String!
  status: RunTraceSpanStatus!
  attempts: Int
  duration: Int
  outputID: String
  queuedAt: Time!
  startedAt: Time
  endedAt: Time
  childrenSpans: [RunTraceSpan!]!
  stepOp: StepOp
  stepID: String
  stepType: String!
  isRoot: Boolean!
  parentSpanID: String
  isUserland: Boolean!
  debugPaused: Boolean!
  metadata: [SpanMetadata!]!
}

type StepError {
  message: String!
  name: String
  stack: String
  cause: Unknown
}

type RunTraceSpanOutput {
  input: Bytes
  data: Bytes
  error: StepError
}

type RunTraceTrigger {
  eventName: String
  IDs: [ULID!]!
  payloads: [Bytes!]!
  timestamp: Time!
  isBatch: Boolean!
  batchID: ULID
  cron: String
}

type Event {
  id: ULID!
  externalID: String
  workspace: Workspace
  name: String
  createdAt: Time
  payload: String
  schema: String
  status: EventStatus
  pendingRuns: Int
  totalRuns: Int
  raw: String
  functionRuns: [FunctionRun!]
}

type EventV2 {
  envID: UUID!
  id: ULID!
  idempotencyKey: String
  name: String!
  occurredAt: Time!
  raw: String!
  receivedAt: Time!
  runs: [FunctionRunV2!]!
  version: String
}

type StreamItem {
  id: ID!
  trigger: String!
  type: StreamType!
  createdAt: Time!
  runs: [FunctionRun]
  inBatch: Boolean!
}
"""

Fields = dict[str, Any]


class GraphQLAPI:
    """The ``/v0/gql`` endpoint over one ``Server``'s store and registry."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.schema = graphql.build_schema(SDL)
        root: dict[str, Callable[..., Awaitable[Any]]] = {
            "run": self._run,
            "runTrace": self._run_trace,
            "runTrigger": self._run_trigger,
            "runTraceSpanOutputByID": self._span_output,
            "event": self._event,
            "events": self._events,
            "eventV2": self._event_v2,
            "stream": self._stream,
            "functionRun": self._function_run,
        }
        # graphql-core's default resolver calls a callable field with (info, **args).
        self.root = {name: _drop_info(fn) for name, fn in root.items()}

    async def handle(self, request: Request) -> Response:
        try:
            query, variables, operation = await _read_request(request)
        except BadRequest as exc:
            return json_response({"errors": [{"message": exc.message}]}, exc.http_status)
        try:
            result = await graphql.graphql(
                self.schema,
                query,
                root_value=self.root,
                variable_values=variables,
                operation_name=operation,
            )
        except Exception as exc:  # the API promises a GraphQL error, never a 500
            log.exception("gql.failed")
            return json_response({"data": None, "errors": [{"message": str(exc)}]})
        body: dict[str, Any] = {"data": result.data}
        if result.errors:
            body["errors"] = [e.formatted for e in result.errors]
        return json_response(body)

    # Root fields

    async def _run(self, runID: str) -> Fields | None:
        run = await self.server.store.get_run(runID)
        return None if run is None else self._run_v2(run)

    async def _run_trace(self, runID: str) -> Fields:
        trace = await self._trace(runID)
        if trace is None:
            raise graphql.GraphQLError(f"run {runID!r} not found")
        return trace

    async def _run_trigger(self, runID: str) -> Fields:
        state = await self.server.store.run_state(runID)
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

    async def _span_output(self, outputID: str) -> Fields:
        parsed = parse_output_id(outputID)
        if parsed is None:
            raise graphql.GraphQLError(
                f"outputID {outputID!r} is not an output id of this server; "
                "take one from a span's outputID"
            )
        run_id, step_id = parsed
        state = await self.server.store.run_state(run_id)
        output = span_output(state, step_id) if state is not None else None
        if output is None:
            raise graphql.GraphQLError(f"no output recorded for {outputID!r} (yet)")
        return {"input": None, "data": output.data, "error": output.error}

    async def _event(self, query: Fields) -> Fields:
        event_id = str(query["eventId"])
        event = await self.server.store.get_event(event_id)
        if event is None:
            raise graphql.GraphQLError(f"event {event_id!r} not found")
        return self._event_v1(event)

    async def _events(self, query: Fields) -> list[Fields]:
        events = await self.server.store.list_events(None, MAX_EVENTS)
        last = query.get("lastEventId")
        if last:
            events = [e for e in events if e.internal_id < str(last)]
        return [self._event_v1(e) for e in events]

    async def _event_v2(self, id: str) -> Fields:
        event = await self.server.store.get_event(id)
        if event is None:
            raise graphql.GraphQLError(f"event {id!r} not found")

        async def runs() -> list[Fields]:
            return [self._run_v2(r) for r in await self.server.store.runs_for_event(id)]

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

    async def _stream(self, query: Fields) -> list[Fields]:
        limit = max(int(query.get("limit") or 0), 0)
        internal = bool(query.get("includeInternalEvents"))
        after, before = query.get("after"), query.get("before")
        events = await self.server.store.list_events(None, MAX_EVENTS)
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

    async def _function_run(self, query: Fields) -> Fields | None:
        run = await self.server.store.get_run(str(query["functionRunId"]))
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

    def _run_v1(self, run: Run) -> Fields:
        async def events() -> list[Fields]:
            state = await self.server.store.run_state(run.id)
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
        runs_cache: list[Run] = []
        loaded = False

        async def runs() -> list[Run]:
            nonlocal loaded
            if not loaded:
                runs_cache.extend(await self.server.store.runs_for_event(event.internal_id))
                loaded = True
            return runs_cache

        async def function_runs() -> list[Fields]:
            return [self._run_v1(r) for r in await runs()]

        async def status() -> str:
            return _event_status(await runs())

        async def total() -> int:
            return len(await runs())

        async def pending() -> int:
            return sum(1 for r in await runs() if not r.status.ended)

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

    def _stream_item(self, event: Event) -> Fields:
        async def runs() -> list[Fields]:
            found = await self.server.store.runs_for_event(event.internal_id)
            return [self._run_v1(r) for r in found]

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
        function = self.server.registry.get(slug)
        return {
            "id": slug,
            "slug": slug,
            "name": function.name if function is not None else slug,
            "url": function.url if function is not None else "",
            "appID": function.app_url if function is not None else "",
        }

    async def _trace(self, run_id: str) -> Fields | None:
        store = self.server.store
        state = await store.run_state(run_id)
        if state is None:
            return None
        history = await store.history(run_id)
        function = self.server.registry.get(state.run.function_slug)
        name = function.name if function is not None else state.run.function_slug
        return _span_fields(build_trace(state, history, name), run_id)


async def _read_request(request: Request) -> tuple[str, dict[str, Any] | None, str | None]:
    """``query``, ``variables`` and ``operationName`` from a POST body or GET parameters."""
    if request.method == "GET":
        params: Any = dict(request.query_params)
        raw_vars = params.get("variables")
        if raw_vars:
            try:
                params["variables"] = orjson.loads(raw_vars)
            except orjson.JSONDecodeError as exc:
                raise BadRequest(f"variables is not valid JSON: {exc}") from None
    else:
        try:
            params = orjson.loads(await request.body())
        except orjson.JSONDecodeError as exc:
            raise BadRequest(
                f"the body is not valid JSON ({exc}); expected "
                '{"query": "...", "variables": {...}, "operationName": "..."}'
            ) from None
    if not isinstance(params, dict):
        raise BadRequest('the body must be a JSON object such as {"query": "{ ... }"}')
    query = params.get("query")
    if not isinstance(query, str) or not query.strip():
        raise BadRequest("query is missing: send the GraphQL document as a string in query")
    variables = params.get("variables")
    if variables is not None and not isinstance(variables, dict):
        raise BadRequest("variables must be a JSON object")
    operation = params.get("operationName")
    if operation is not None and not isinstance(operation, str):
        raise BadRequest("operationName must be a string")
    return query, variables, operation or None


def _span_fields(span: Span, run_id: str) -> Fields:
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
        "childrenSpans": [_span_fields(c, run_id) for c in span.children],
        "stepOp": span.step_op,
        "stepID": span.step_id,
        "stepType": span.step_type,
        "isRoot": span.is_root,
        "parentSpanID": span.parent_span_id,
        "isUserland": False,
        "debugPaused": False,
        "metadata": [],
    }


def _event_status(runs: list[Run]) -> str:
    if not runs:
        return "NO_FUNCTIONS"
    failed = sum(1 for r in runs if r.status is RunStatus.FAILED)
    if any(not r.status.ended for r in runs):
        return "RUNNING"
    if failed == len(runs):
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


def _lazy(fn: Callable[[], Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """A field computed only if selected (the default resolver calls it with ``info``)."""

    def resolve(info: Any, **args: Any) -> Awaitable[Any]:
        return fn()

    return resolve


def _drop_info(fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    def resolve(info: Any, **args: Any) -> Awaitable[Any]:
        return fn(**args)

    return resolve
