"""``POST /v0/gql`` (and ``GET``): read a GraphQL request, execute it against the schema
in ``schema.graphql``, answer in the GraphQL response shape.

The schema is a package-data file so it reads, diffs and lints as GraphQL; it is parsed
once per app. The API promises a GraphQL answer: a request it cannot read is a 400 with
``errors``, and a failure while executing is logged and reported in ``errors``, never a 500.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from importlib import resources
from typing import Any

import graphql
import orjson
from starlette.requests import Request
from starlette.responses import Response

from inlet.api.graphql.resolvers import Resolvers
from inlet.api.render import json_response
from inlet.errors import BadRequest
from inlet.model import Function
from inlet.store import Store

log = logging.getLogger("inlet.api.graphql")


def load_schema() -> graphql.GraphQLSchema:
    sdl = (
        resources.files("inlet.api.graphql").joinpath("schema.graphql").read_text(encoding="utf-8")
    )
    return graphql.build_schema(sdl)


class GraphQLAPI:
    """The ``/v0/gql`` endpoint over a store and a lookup of registered functions."""

    def __init__(self, store: Store, function: Callable[[str], Function | None]) -> None:
        self.schema = load_schema()
        self.root = Resolvers(store, function).root()

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
