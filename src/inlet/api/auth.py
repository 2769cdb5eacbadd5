"""API tokens for ``inlet start``: every route needs one except the few listed in
:data:`OPEN_ROUTES`, so a route added later is closed until someone opens it on purpose.

A token is ``inlet_`` and 256 random bits. The store keeps only its SHA-256: a slow
password hash (bcrypt, argon2) exists to make guessing a low-entropy secret expensive, and
nobody guesses 256 random bits, so a plain digest is as safe here and lets a request find
its token by one index probe instead of trying every stored hash.

The dashboard (``/ui``) is open here: it logs people in with a password or a token and
keeps a session cookie instead (``inlet.ui.guard``).

A viewer reads (``GET``, ``HEAD``, and GraphQL queries, which clients send by ``POST``);
anything else needs an admin. ``inlet dev`` installs none of this, as ``inngest dev``.

A token found is trusted for ``TOKEN_TTL`` (5 s) without reading the store again, so a
client's requests cost no read each; a revoked token stops working within that long.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
from typing import Final
from urllib.parse import parse_qs

import graphql
import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from inlet.api.errors import error_response
from inlet.clock import Clock
from inlet.errors import Forbidden, InletError, Unauthorized
from inlet.store import Store
from inlet.store.tokens import ApiToken, TokenCache

PREFIX: Final = "inlet_"

OPEN_ROUTES: Final = (
    re.compile(r"/health"),
    # Readiness says ok or which check failed, never a URL or a key (api/health.py).
    re.compile(r"/health/ready"),
    # The event API checks its own event key.
    re.compile(r"/e/?"),
    re.compile(r"/e/[^/]+"),
    # The SDK's routes check the signing key as a bearer (api/sdk.py).
    re.compile(r"/fn/register"),
    re.compile(r"/v0/runs/[^/]+/(batch|actions)"),
    re.compile(r"/v1/runs/[^/]+/metadata"),
    re.compile(r"/v1/checkpoint(/[^/]+/(async|steps))?"),
    re.compile(r"/v1/realtime/publish/tee"),
    # A durable endpoint's client holds a token of its run instead (api/endpoints.py).
    re.compile(r"/v1/http/runs/[^/]+/output"),
    re.compile(r"/v1/realtime/sse"),
    # The dashboard checks its own session cookie (ui/guard.py).
    re.compile(r"/ui(/.*)?"),
)
"""The paths that need no API token; every other path does."""

READS: Final = frozenset({"GET", "HEAD"})
GRAPHQL_PATH: Final = "/v0/gql"
TOUCH_EVERY: Final = 60.0
"""Seconds between two writes of one token's last use (a write per request is not worth it)."""

HOW_TO_CREATE = "create one with: inlet tokens create --role viewer --database-url URL"


def new_token() -> str:
    """A fresh token: shown once to the operator, never stored."""
    return PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """What the store keeps of a token: its hex SHA-256."""
    return hashlib.sha256(token.encode()).hexdigest()


def is_open(path: str) -> bool:
    return any(route.fullmatch(path) for route in OPEN_ROUTES)


def reads_only(query: str) -> bool:
    """Whether a GraphQL document holds only queries. A document that does not parse is
    let through: the endpoint answers it with its own 400 and executes nothing."""
    try:
        document = graphql.parse(query)
    except graphql.GraphQLError:
        return True
    return all(
        definition.operation is graphql.OperationType.QUERY
        for definition in document.definitions
        if isinstance(definition, graphql.OperationDefinitionNode)
    )


class TokenAuth:
    """ASGI middleware: a valid, unrevoked ``Authorization: Bearer`` API token on every
    path that is not open, and an admin one for anything that is not a read."""

    def __init__(self, app: ASGIApp, store: Store, clock: Clock) -> None:
        self._app = app
        self._store = store
        self._clock = clock
        self._touched: dict[str, float] = {}
        self._tokens = TokenCache()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or is_open(scope["path"]):
            await self._app(scope, receive, send)
            return
        if _browser_home(scope):
            await self._app(scope, receive, send)
            return
        try:
            token = await self._authenticate(scope)
            if scope["type"] == "http":
                receive = await self._authorize(scope, receive, token)
        except InletError as exc:
            if scope["type"] == "websocket":
                # A stream only reads (a viewer may); without a valid token it is refused.
                await send({"type": "websocket.close", "code": 1008, "reason": exc.code})
            else:
                await error_response(exc)(scope, receive, send)
            return
        await self._app(scope, receive, send)

    async def _authenticate(self, scope: Scope) -> ApiToken:
        route = f"{scope.get('method', 'WEBSOCKET')} {scope['path']}"
        header = _header(scope, b"authorization")
        if header is None:
            raise Unauthorized(
                f"{route} needs an API token: send 'Authorization: Bearer <token>'; "
                + HOW_TO_CREATE
            )
        scheme, _, secret = header.partition(" ")
        secret = secret.strip()
        if scheme.lower() != "bearer" or not secret:
            raise Unauthorized(
                f"{route}: the Authorization header is not 'Bearer <token>'; send the API "
                f"token that way ({HOW_TO_CREATE})"
            )
        digest = hash_token(secret)
        now = self._clock.now()
        found = self._tokens.get(digest, now)
        if found is None:
            found = await self._store.token_by_hash(digest)
            if found is not None:
                self._tokens.put(found, now)
        # The lookup is by digest, so its timing tells nothing about the token; the final
        # comparison is constant-time all the same.
        if found is None or not hmac.compare_digest(found.hash, digest):
            raise Unauthorized(
                f"{route}: the API token is not one this server knows (mistyped, or made on "
                f"another database); {HOW_TO_CREATE}"
            )
        if found.revoked:
            raise Unauthorized(
                f"{route}: API token {found.id} ({found.name or 'unnamed'}) was revoked; "
                + HOW_TO_CREATE
            )
        if now - self._touched.get(found.id, float("-inf")) >= TOUCH_EVERY:
            self._touched[found.id] = now
            await self._store.touch_token(found.id, now)
        return found

    async def _authorize(self, scope: Scope, receive: Receive, token: ApiToken) -> Receive:
        """The request's ``receive`` (replayed if the body had to be read to decide)."""
        if token.role == "admin":
            return receive
        method, path = scope["method"], scope["path"]
        denied = Forbidden(
            f"{method} {path} changes state and needs an admin token; API token {token.id} "
            f"({token.name or 'unnamed'}) is a viewer. Use an admin token, or make one with: "
            "inlet tokens create --role admin --database-url URL"
        )
        if path == GRAPHQL_PATH:
            body, receive = await _buffer(receive)
            if method == "GET":
                query = _query_param(scope)
            elif method == "POST":
                query = _query_in_body(body)
            else:
                raise denied
            if not reads_only(query):
                raise denied
            return receive
        if method not in READS:
            raise denied
        return receive


def _browser_home(scope: Scope) -> bool:
    """A browser opening ``/``: it is sent on to the dashboard, which asks it to log in.
    An API client (no ``text/html`` in Accept) still gets the 401 that says how to get a
    token."""
    if scope["type"] != "http" or scope["path"] != "/" or scope["method"] not in READS:
        return False
    return "text/html" in (_header(scope, b"accept") or "")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def _query_param(scope: Scope) -> str:
    values = parse_qs(bytes(scope.get("query_string", b"")).decode("latin-1")).get("query", [])
    return values[0] if values else ""


def _query_in_body(body: bytes) -> str:
    try:
        params = orjson.loads(body)
    except orjson.JSONDecodeError:
        return ""
    query = params.get("query") if isinstance(params, dict) else None
    return query if isinstance(query, str) else ""


async def _buffer(receive: Receive) -> tuple[bytes, Receive]:
    """The whole body, and a ``receive`` that hands it to the app as if unread."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


def exposure_warning(host: str) -> str | None:
    """What ``inlet dev`` (no keys, no tokens) should say when bound beyond loopback."""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if loopback:
        return None
    return (
        f"inlet dev is listening on {host}, not on loopback: anyone who reaches this port "
        "can read every event and step output, cancel runs and register functions, with no "
        "key or token. Use --host 127.0.0.1 (the default), or inlet start."
    )
