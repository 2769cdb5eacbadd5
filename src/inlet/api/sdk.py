"""The routes an SDK calls: ``POST /fn/register`` (an app syncs itself), the ``/v0``
reads it makes when a call request was too large to carry its events and steps
(``use_api``), and ``POST /v1/runs/{id}/metadata`` (``inlet.api.metadata``). All of them
check the signing key (or its fallback) as a bearer token when one is set."""

from __future__ import annotations

import ipaddress

import orjson
from starlette.requests import Request
from starlette.responses import Response

from inlet.api.body import json_object
from inlet.api.metadata import parse_updates
from inlet.api.render import json_response
from inlet.clock import Clock
from inlet.config import Settings
from inlet.errors import BadRequest, Forbidden, NotFound, Unauthorized
from inlet.protocol.signing import bearer_matches
from inlet.steps.ops import LAZY
from inlet.store import Store
from inlet.sync.syncer import Syncer


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


class SdkAPI:
    """Registration goes to the ``Syncer``; the ``/v0`` reads answer from the run's state."""

    def __init__(self, settings: Settings, store: Store, syncer: Syncer, clock: Clock) -> None:
        self._settings = settings
        self._store = store
        self._syncer = syncer
        self._clock = clock

    async def register(self, request: Request) -> Response:
        self._check_bearer(request)
        self._check_origin(request)
        try:
            payload = orjson.loads(await request.body())
        except orjson.JSONDecodeError as exc:
            raise BadRequest(f"the register body is not valid JSON: {exc}") from None
        modified = await self._syncer.register(payload)
        return json_response({"ok": True, "modified": modified})

    async def run_batch(self, request: Request) -> Response:
        self._check_bearer(request)
        state = await self._store.run_state(request.path_params["run_id"])
        if state is None:
            return json_response({"error": "run not found", "status": 404}, 404)
        return json_response([e.to_wire() for e in state.events])

    async def run_actions(self, request: Request) -> Response:
        self._check_bearer(request)
        state = await self._store.run_state(request.path_params["run_id"])
        if state is None:
            return json_response({"error": "run not found", "status": 404}, 404)
        # Defers are not step results: the call request lists them in ``defers``.
        return json_response({m.step_id: m.value for m in state.memos if m.op not in LAZY})

    async def update_metadata(self, request: Request) -> Response:
        self._check_bearer(request)
        run_id = request.path_params["run_id"]
        updates = parse_updates(await json_object(request), run_id)
        if not await self._store.update_metadata(run_id, updates, self._clock.now()):
            raise NotFound(f"run {run_id!r} not found; metadata attaches to an existing run")
        return json_response({})

    def _check_origin(self, request: Request) -> None:
        # inlet dev takes registrations without a key; from anywhere but this machine that
        # would let any web page a developer opens register a function pointing at an
        # internal URL, which inlet would then call.
        settings = self._settings
        if settings.profile != "dev" or settings.allow_remote_register:
            return
        client = request.client.host if request.client else ""
        if not _loopback(client):
            raise Forbidden(
                f"inlet dev takes POST /fn/register only from this machine, not from "
                f"{client or 'an unknown address'}; start it with --allow-remote-register "
                "(INLET_ALLOW_REMOTE_REGISTER) to allow it, or use inlet start with keys"
            )

    def _check_bearer(self, request: Request) -> None:
        check_bearer(self._settings, request)


def check_bearer(settings: Settings, request: Request) -> None:
    """Every route an SDK calls takes the signing key as a bearer when one is set. The
    fallback is accepted too: during a rotation apps still on the old key keep registering,
    fetching their runs' data and checkpointing."""
    keys = settings.signing_keys
    if keys and not bearer_matches(request.headers.get("authorization"), keys):
        raise Unauthorized(
            "missing or wrong Authorization bearer: the SDK's signing key "
            "(INNGEST_SIGNING_KEY) must be the server's --signing-key or "
            "--signing-key-fallback"
        )
