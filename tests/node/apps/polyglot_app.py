"""The Python half of the polyglot case (app id ``poly-py``), beside the TypeScript app
``poly-ts`` (``sets.js``) on one server: each invokes a function of the other, and a
Python step sends an event a TypeScript function consumes.

Served by uvicorn at ``/api/inngest``; journals to ``ACCEPT_RECORD_FILE`` like the others.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import fastapi
import inngest
import inngest.fast_api

client = inngest.Inngest(app_id="poly-py", is_production=False)


def record(kind: str, **fields: Any) -> None:
    line = json.dumps({"kind": kind, "t": time.time(), "runtime": "python", **fields}) + "\n"
    fd = os.open(os.environ["ACCEPT_RECORD_FILE"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def _key(ctx: inngest.Context) -> str:
    return str(ctx.event.data.get("key", ""))


@client.create_function(fn_id="double", trigger=inngest.TriggerEvent(event="poly/py.double"))
async def double(ctx: inngest.Context) -> dict[str, Any]:
    key = _key(ctx)

    async def work() -> int:
        record("step", fn="double", step="double", key=key, app="poly-py")
        return int(str(ctx.event.data["n"])) * 2

    return {"doubled": await ctx.step.run("double", work), "key": key}


@client.create_function(fn_id="caller", trigger=inngest.TriggerEvent(event="poly/py.call"))
async def caller(ctx: inngest.Context) -> dict[str, Any]:
    squared = await ctx.step.invoke_by_id(
        "call-typescript",
        app_id="poly-ts",
        function_id="square",
        data={"key": _key(ctx), "n": ctx.event.data["n"]},
    )
    return {"from_typescript": squared}


@client.create_function(fn_id="emitter", trigger=inngest.TriggerEvent(event="poly/py.emit"))
async def emitter(ctx: inngest.Context) -> dict[str, Any]:
    ids = await ctx.step.send_event(
        "emit", inngest.Event(name="poly/from.py", data={"key": _key(ctx), "lang": "python"})
    )
    return {"ids": ids}


app = fastapi.FastAPI()
inngest.fast_api.serve(app, client, [double, caller, emitter])
