"""Defers with the Python SDK's pre-release (``inngest==0.5.20a0``, installed by
``tests/acceptance/test_py_newest.py`` into a directory of its own and put first on
``PYTHONPATH``; the project stays on 0.5.19). ``parent`` defers twice, runs a step and
aborts one defer after it, so its last reply is ``[DeferAbort, RunComplete]``; ``lone``
defers and returns without a step, so its only reply is ``[DeferAdd, RunComplete]``: the
result wrapped in ``RunComplete`` because defers were buffered."""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from typing import Any

import fastapi
import inngest
import inngest.fast_api

from .common import record

# Looked up at run time: the project's type checker sees 0.5.19, which has neither this module
# nor ctx.defer and ctx.parents.
create_defer: Callable[..., Callable[[Callable[[Any], Awaitable[Any]]], Any]] = (
    importlib.import_module("inngest.experimental.deferred").create_defer
)

client = inngest.Inngest(app_id="py-newest", is_production=False)


@create_defer(client, fn_id="scorer")
async def scorer(ctx: Any) -> dict[str, Any]:
    parent = ctx.parents[0] if ctx.parents else None
    record(
        "deferred",
        key=ctx.event.data["key"],
        n=ctx.event.data["n"],
        parent_run_id=parent.run_id if parent else None,
        parent_fn=parent.fn_slug if parent else None,
    )
    return {"scored": ctx.event.data["n"]}


@client.create_function(fn_id="parent", trigger=inngest.TriggerEvent(event="pynew/parent"))
async def parent(ctx: inngest.Context) -> dict[str, Any]:
    key = str(ctx.event.data["key"])
    deferring: Any = ctx
    deferring.defer("score", function=scorer, data={"key": key, "n": 1})
    cleanup = deferring.defer("cleanup", function=scorer, data={"key": key, "n": 2})

    async def work() -> str:
        record("step", key=key, step="a")
        return "a"

    await ctx.step.run("a", work)
    cleanup.abort()
    return {"parent": key}


@client.create_function(fn_id="lone", trigger=inngest.TriggerEvent(event="pynew/lone"))
async def lone(ctx: inngest.Context) -> dict[str, Any]:
    key = str(ctx.event.data["key"])
    deferring: Any = ctx
    deferring.defer("score", function=scorer, data={"key": key, "n": 3})
    return {"lone": key}


app = fastapi.FastAPI()
inngest.fast_api.serve(app, client, [scorer, parent, lone])
