"""``GET /dev``: what this server has synced, in the shape of ``inngest dev``'s
InfoResponse (its apps, their functions and sync errors), which the SDKs and the Inngest
CLI read to find a running dev server."""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response

from inlet.api.render import dev_info, json_response
from inlet.config import Settings
from inlet.model import Function
from inlet.store import Store


class SyncAPI:
    """Synced apps come from the store; functions from the process's current registry,
    which is what triggers here."""

    def __init__(
        self, settings: Settings, store: Store, functions: Callable[[], list[Function]]
    ) -> None:
        self._settings = settings
        self._store = store
        self._functions = functions

    async def dev_info(self, request: Request) -> Response:
        apps = await self._store.list_apps()
        return json_response(dev_info(self._settings, apps, self._functions()))
