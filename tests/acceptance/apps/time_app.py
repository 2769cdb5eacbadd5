"""The time acceptance app (app id ``accept-time``): sleeps, waits, invokes, cancellation,
run timeouts; plus ``cron_app`` (app id ``accept-time-cron``), a separate ASGI app with the
cron function, so that only the cron tests see scheduled runs.

Every event carries a unique ``data.key`` chosen by the test (and the same value as
``data.id`` where an ``async`` expression matches on it). Wall-clock times are taken
inside steps, so they are memoised: a replay sees the time of the one real execution.
"""

from __future__ import annotations

import datetime
import logging
import time
from typing import Any

import fastapi
import inngest
import inngest.fast_api

from .common import CallRecorder, record

client = inngest.Inngest(
    app_id="accept-time", is_production=False, logger=logging.getLogger("accept-time-app")
)

CANCEL_EVENT = "time/cancel"
GO_EVENT = "time/go"
CANCELLABLE_SLEEP = datetime.timedelta(seconds=4)
FINISH_TIMEOUT = datetime.timedelta(seconds=2)
FINISH_TIMEOUT_SLEEP = datetime.timedelta(seconds=5)
CHILD_SLEEP = datetime.timedelta(seconds=10)
INVOKE_TIMEOUT = datetime.timedelta(seconds=2)


def _key(ctx: inngest.Context) -> str:
    return str(ctx.event.data.get("key", ""))


def _clock_step(fn: str, step: str, key: str) -> Any:
    """A step body that journals its execution and returns the wall-clock time."""

    async def body() -> float:
        now = time.time()
        record("step", fn=fn, step=step, key=key, at=now)
        return now

    return body


@client.create_function(fn_id="sleeper", trigger=inngest.TriggerEvent(event="time/sleep"))
async def sleeper(ctx: inngest.Context) -> dict[str, Any]:
    key = _key(ctx)
    seconds = float(ctx.event.data.get("seconds", 2))
    before = await ctx.step.run("before", _clock_step("sleeper", "before", key))
    await ctx.step.sleep("nap", datetime.timedelta(seconds=seconds))
    after = await ctx.step.run("after", _clock_step("sleeper", "after", key))
    return {"before": before, "after": after, "seconds": seconds}


@client.create_function(fn_id="sleep-until", trigger=inngest.TriggerEvent(event="time/sleep-until"))
async def sleep_until(ctx: inngest.Context) -> dict[str, Any]:
    key = _key(ctx)
    until = float(ctx.event.data["until"])
    before = await ctx.step.run("before", _clock_step("sleep-until", "before", key))
    await ctx.step.sleep_until("nap", datetime.datetime.fromtimestamp(until, datetime.UTC))
    after = await ctx.step.run("after", _clock_step("sleep-until", "after", key))
    return {"before": before, "after": after, "until": until}


@client.create_function(fn_id="waiter", trigger=inngest.TriggerEvent(event="time/wait"))
async def waiter(ctx: inngest.Context) -> dict[str, Any]:
    key = _key(ctx)
    go = str(ctx.event.data.get("go", GO_EVENT))
    timeout = datetime.timedelta(seconds=float(ctx.event.data.get("timeout_s", 60)))
    started = await ctx.step.run("before", _clock_step("waiter", "before", key))
    got = await ctx.step.wait_for_event(
        "wait", event=go, if_exp="event.data.id == async.data.id", timeout=timeout
    )
    received = None if got is None else {"id": got.id, "name": got.name, "data": got.data}

    async def note() -> float:
        now = time.time()
        record("waited", key=key, received=received, at=now)
        return now

    resumed = await ctx.step.run("got", note)
    return {"received": received, "started": started, "resumed": resumed}


@client.create_function(fn_id="child-add", trigger=inngest.TriggerEvent(event="time/child-add"))
async def child_add(ctx: inngest.Context) -> dict[str, Any]:
    record("child", fn="child-add", key=_key(ctx), event=ctx.event.name)
    return {"sum": int(ctx.event.data["a"]) + int(ctx.event.data["b"]), "key": _key(ctx)}


@client.create_function(
    fn_id="child-fail", retries=0, trigger=inngest.TriggerEvent(event="time/child-fail")
)
async def child_fail(ctx: inngest.Context) -> None:
    record("child", fn="child-fail", key=_key(ctx))
    raise ValueError(f"child failed for {_key(ctx)}")


@client.create_function(fn_id="child-slow", trigger=inngest.TriggerEvent(event="time/child-slow"))
async def child_slow(ctx: inngest.Context) -> str:
    key = _key(ctx)
    await ctx.step.sleep("slow", CHILD_SLEEP)
    await ctx.step.run("done", _clock_step("child-slow", "done", key))
    return f"slow-{key}"


def _step_error(exc: inngest.StepError) -> dict[str, Any]:
    return {"caught": type(exc).__name__, "name": exc.name, "message": exc.message}


@client.create_function(fn_id="invoker", trigger=inngest.TriggerEvent(event="time/invoke"))
async def invoker(ctx: inngest.Context) -> Any:
    key = _key(ctx)
    target = ctx.event.data["target"]
    try:
        if target == "add":
            return await ctx.step.invoke(
                "call", function=child_add, data={"key": key, "a": 2, "b": 40}
            )
        if target == "fail":
            return await ctx.step.invoke("call", function=child_fail, data={"key": key})
        return await ctx.step.invoke(
            "call", function=child_slow, data={"key": key}, timeout=INVOKE_TIMEOUT
        )
    except inngest.StepError as exc:
        record("invoke_error", key=key, **_step_error(exc))
        return _step_error(exc)


@client.create_function(fn_id="bridge", trigger=inngest.TriggerEvent(event="time/bridge"))
async def bridge(ctx: inngest.Context) -> dict[str, Any]:
    key = _key(ctx)
    ids = await ctx.step.send_event(
        "send",
        inngest.Event(name="time/bridged", data={"key": key, "payload": ctx.event.data["payload"]}),
    )
    return {"sent": ids}


@client.create_function(fn_id="bridged", trigger=inngest.TriggerEvent(event="time/bridged"))
async def bridged(ctx: inngest.Context) -> dict[str, Any]:
    record("bridged", key=_key(ctx), data=ctx.event.data)
    return {"received": ctx.event.data}


@client.create_function(
    fn_id="cancellable",
    cancel=[inngest.Cancel(event=CANCEL_EVENT, if_exp="event.data.id == async.data.id")],
    trigger=inngest.TriggerEvent(event="time/cancellable"),
)
async def cancellable(ctx: inngest.Context) -> dict[str, Any]:
    key = _key(ctx)
    before = await ctx.step.run("before", _clock_step("cancellable", "before", key))
    seconds = ctx.event.data.get("seconds")
    nap = CANCELLABLE_SLEEP if seconds is None else datetime.timedelta(seconds=float(seconds))
    await ctx.step.sleep("nap", nap)
    after = await ctx.step.run("after", _clock_step("cancellable", "after", key))
    return {"before": before, "after": after}


@client.create_function(
    fn_id="finish-timeout",
    timeouts=inngest.Timeouts(finish=FINISH_TIMEOUT),
    trigger=inngest.TriggerEvent(event="time/finish-timeout"),
)
async def finish_timeout(ctx: inngest.Context) -> str:
    key = _key(ctx)
    await ctx.step.run("before", _clock_step("finish-timeout", "before", key))
    await ctx.step.sleep("nap", FINISH_TIMEOUT_SLEEP)
    await ctx.step.run("after", _clock_step("finish-timeout", "after", key))
    return "finished"


FUNCTIONS = [
    sleeper,
    sleep_until,
    waiter,
    child_add,
    child_fail,
    child_slow,
    invoker,
    bridge,
    bridged,
    cancellable,
    finish_timeout,
]

app = fastapi.FastAPI()
inngest.fast_api.serve(app, client, FUNCTIONS)
app.add_middleware(CallRecorder)


cron_client = inngest.Inngest(
    app_id="accept-time-cron", is_production=False, logger=logging.getLogger("accept-cron-app")
)


@cron_client.create_function(fn_id="ticker", trigger=inngest.TriggerCron(cron="* * * * *"))
async def ticker(ctx: inngest.Context) -> dict[str, Any]:
    now = time.time()
    record("tick", event_id=ctx.event.id, name=ctx.event.name, data=ctx.event.data, at=now)
    return {"event_id": ctx.event.id, "at": now}


cron_app = fastapi.FastAPI()
inngest.fast_api.serve(cron_app, cron_client, [ticker])
