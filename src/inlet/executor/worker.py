"""The executor service: claim due items, call the app, record what it answered.

One dispatcher task claims work in batches while fewer than ``worker_concurrency`` calls
are in flight; each call runs in its own task. Wake-ups (``notify``) make new work start
at once; polling the store for the next due time stays the correctness path.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
from collections.abc import Callable, Sequence

from inlet.clock import Clock
from inlet.config import Settings
from inlet.executor import gateway, step_metadata
from inlet.executor.transport import Transport
from inlet.metrics import UNREACHABLE, Metrics, call_error_kind
from inlet.model import Attempt, Finish, ItemKind, Outcome, QueueItem, RunStatus
from inlet.protocol.signing import sign
from inlet.protocol.traceparent import traceparent
from inlet.runs.apply import Applier
from inlet.runs.registry import Registry
from inlet.steps import timers
from inlet.steps.backoff import RetryPolicy
from inlet.steps.finish import standard_error
from inlet.steps.machine import Call, Limits, Reply, interpret
from inlet.steps.request import build
from inlet.store import Store
from inlet.store.base import Claim, Next

log = logging.getLogger("inlet.executor")

CLAIM_BATCH = 64
IDLE_POLL = 1.0
"""Longest sleep without looking at the store: covers work enqueued by other processes."""
TIMERS_AHEAD = 0.05
"""A claim also leases the timers due this soon, and each fires at its time with no claim
on the way: under a stream of sleeps (W3) most wake-ups skip a claim transaction."""


class Executor:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        clock: Clock,
        registry: Callable[[], Registry],
        transport: Transport,
        applier: Applier,
        metrics: Metrics | None = None,
    ) -> None:
        self._store = store
        self._metrics = metrics or Metrics()
        self._settings = settings
        self._clock = clock
        self._registry = registry
        self._transport = transport
        self._applier = applier
        self._retry = RetryPolicy(settings.retry_interval)
        self._limits = Limits(
            max_step_output_bytes=settings.max_step_output_bytes,
            max_state_bytes=settings.max_state_bytes,
            max_steps=settings.max_steps_per_run,
        )
        # inlet start trusts only signed replies; inlet dev, like inngest dev, any reply.
        self._response_keys = settings.signing_keys if settings.profile == "start" else ()
        self._owner = f"{os.getpid()}-{random.getrandbits(32):08x}"
        self._wake = asyncio.Event()
        self._inflight: dict[str, Claim] = {}
        self._reserved = 0
        """Slots held for the calls that fired timers' completions may lease: a timer holds
        no slot, the call it leases does (counted in flight once it is handed over)."""
        self._tasks: set[asyncio.Task[None]] = set()
        self._early = 0
        """Tasks of timers leased ahead of their time, waiting for it."""
        self._loops: list[asyncio.Task[None]] = []
        self._stopping = False
        self._idle = False
        """The last claim found nothing due and no wake-up has come since."""
        self._paused = False
        self._short = False
        """The last claim took as many calls as it had slots for: more may be due."""

    @property
    def idle(self) -> bool:
        """No call or timer in flight (but timers waiting for their time) and the dispatcher
        waits for time to pass or a wake-up: what a test's settle waits for
        (``inlet.testing``)."""
        return len(self._tasks) == self._early and self._paused and not self._wake.is_set()

    @property
    def alive(self) -> bool:
        """Its dispatcher and lease loops run: started, and none ended (``/health/ready``)."""
        return bool(self._loops) and not any(task.done() for task in self._loops)

    def notify(self) -> None:
        """New work may be due: look now instead of at the next poll."""
        self._wake.set()

    async def start(self) -> None:
        self._loops = [
            asyncio.create_task(self._dispatch(), name="inlet-dispatch"),
            asyncio.create_task(self._keep_leases(), name="inlet-leases"),
        ]

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        for task in self._loops:
            task.cancel()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._loops, *self._tasks, return_exceptions=True)

    async def _dispatch(self) -> None:
        while not self._stopping:
            try:
                await self._dispatch_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("executor.dispatch_failed")
                await self._clock.sleep(IDLE_POLL)

    async def _dispatch_once(self) -> None:
        free = max(self._settings.worker_concurrency - self._calls(), 0)
        self._wake.clear()
        now = self._clock.now()
        if self._idle:
            # Nothing was due at the last look and nobody has said otherwise since: read
            # when the next item is due (a cheap read) instead of opening a claim's write
            # transaction every second. This is what keeps an idle server's database quiet.
            due = await self._store.next_due()
            if due is None or due > now:
                await self._pause(IDLE_POLL if due is None else min(due - now, IDLE_POLL))
                return
        limit = min(free, CLAIM_BATCH)
        # Due timers come first and need no free slot: firing one makes no call, and a
        # timer waiting behind a backlog of due calls would wake its run late.
        claims = await self._store.claim(
            now,
            limit,
            now + self._settings.lease_seconds,
            self._owner,
            timers=CLAIM_BATCH,
            timers_ahead=TIMERS_AHEAD,
        )
        self._idle = False
        fired = 0
        for claim in claims:
            fired += claim.item.kind is ItemKind.TIMER
            self._start(claim, now)
        self._short = not limit or len(claims) - fired >= limit
        if fired == CLAIM_BATCH or (limit and len(claims) - fired >= limit):
            return
        timeout = IDLE_POLL
        if free:
            # A finished call does not wake the dispatcher (``_done``), so even after a
            # claim that found work the pause must end when the next item (a sleep's
            # timer, a retry) falls due, not at the idle poll.
            due = await self._store.next_due()
            if due is not None:
                timeout = min(max(due - self._clock.now(), 0.0), IDLE_POLL)
            self._idle = not claims and timeout > 0
        await self._pause(timeout)

    def offer(self, runs: int) -> Next | None:
        """Slots for the first calls of up to ``runs`` runs an ingest is about to create,
        held until :meth:`adopt`: the ingest leases those calls (``Store.ingest``'s
        ``then``) and this worker calls them without a claim of its own. None when no
        slot is free, or when due work already waits for one (it goes first)."""
        if self._stopping or self._short or not self._loops:
            return None
        free = min(self._settings.worker_concurrency - self._calls(), CLAIM_BATCH, runs)
        if free < 1:
            return None
        self._reserved += free
        return Next(self._clock.now() + self._settings.lease_seconds, self._owner, free)

    def adopt(self, offer: Next, claims: Sequence[Claim], now: float) -> None:
        """Call ``claims``, leased at ``now`` by the ingest ``offer`` went with, in its
        slots; the slots it left unused are free again (pass no claims when it failed)."""
        self._reserved -= offer.calls
        for claim in claims:
            self._start(claim, now)

    def _start(self, claim: Claim, now: float) -> None:
        """Make the call of ``claim`` (or fire its timer) in a task of its own."""
        if _first_call(claim, now):
            assert claim.state is not None
            self._metrics.run_started(claim.state.run.function_slug)
        self._inflight[claim.item.id] = claim
        task = asyncio.create_task(self._execute(claim))
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _calls(self) -> int:
        """The slots taken: calls in flight, and those reserved for a timer's next call."""
        calls = sum(1 for c in self._inflight.values() if c.item.kind is not ItemKind.TIMER)
        return calls + self._reserved

    async def _pause(self, seconds: float) -> None:
        """Wait ``seconds`` or until woken (a wake-up means: claim at once)."""
        if seconds > 0:
            self._paused = True
            try:
                await self._clock.wait(self._wake, seconds)
            finally:
                self._paused = False
        if self._wake.is_set():
            self._idle = False

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        # A freed slot matters only to a dispatcher that left due work for want of one:
        # work that came due meanwhile woke it already (the applier's ``notify``).
        if self._short:
            self._wake.set()

    async def _keep_leases(self) -> None:
        period = self._settings.lease_seconds / 3
        while not self._stopping:
            await self._clock.sleep(period)
            if self._inflight:
                try:
                    await self._store.extend_leases(
                        list(self._inflight.values()),
                        self._clock.now() + self._settings.lease_seconds,
                    )
                except Exception:
                    log.exception("executor.lease_extend_failed")

    async def _execute(self, claim: Claim) -> None:
        """Make the call of ``claim``, then those its completions lease at once (a chain
        of steps runs in this task, in the same slot, without a dispatcher round)."""
        current: Claim | None = claim
        while current is not None:
            claim, current = current, None
            try:
                current = await self._call(claim)
            except asyncio.CancelledError:
                raise
            except Exception:
                # The lease expires and the item is tried again: nothing is lost.
                log.exception(
                    "executor.item_failed",
                    extra={"item": claim.item.id, "run_id": claim.item.run_id},
                )
            finally:
                self._inflight.pop(claim.item.id, None)

    async def _call(self, claim: Claim) -> Claim | None:
        """Make the call, record its outcome; the run's next call if that leased it."""
        item = claim.item
        state = claim.state
        if item.kind is ItemKind.TIMER and item.due_at > self._clock.now():
            await self._until(item.due_at)  # leased ahead of its time (``TIMERS_AHEAD``)
        started = self._clock.now()
        if state is None or state.run.status.ended:
            await self._applier.complete(
                claim,
                Outcome(attempt=Attempt.of(item, started, "skipped", "the run had already ended")),
                started,
            )
            return None
        registry = self._registry()
        function = registry.get(state.run.function_slug)
        reply: Reply | None = None
        if item.kind is ItemKind.TIMER:
            outcome = timers.fire(item, state, started)
        elif function is None:
            reason = (
                f"function {state.run.function_slug!r} is no longer registered by any "
                "app; re-sync the app that served it"
            )
            outcome = Outcome(
                attempt=Attempt.of(item, started, "failed", reason),
                finish=Finish(
                    RunStatus.FAILED,
                    error=standard_error("Error", reason, error=reason),
                ),
            )
        else:
            request = build(
                state,
                item,
                function,
                use_api_threshold=self._settings.use_api_threshold,
                lease=claim.lease,
            )
            reply = await self._transport.post(
                request.url,
                request.body,
                self._headers(state.run.id, item, request.body, state.run.request_version),
            )
            outcome = interpret(
                Call(
                    item=item,
                    state=state,
                    function=function,
                    started_at=started,
                    exists=lambda slug: registry.get(slug) is not None,
                    response_keys=self._response_keys,
                    gateway=await gateway.resolve(reply, self._response_keys),
                ),
                reply,
                now=self._clock.now(),
                jitter=random.random(),
                retry=self._retry,
                limits=self._limits,
            )
        # The applier wakes this worker if the outcome made work (``notify``) that it did
        # not hand back leased: a call keeps its slot for the run's next one.
        now = self._clock.now()
        then = None
        reserved = False
        # The run's next call, due now, ranks at the run's creation, so even behind a
        # backlog of newer runs it is usually first and keeps this call's slot. A timer
        # holds no slot: it asks only for a free one when no backlog waits for it,
        # reserved until the completion hands its call over (or none), so the dispatcher
        # never claims into it meanwhile.
        if not self._stopping:
            if item.kind is not ItemKind.TIMER:
                then = Next(now + self._settings.lease_seconds, self._owner)
            elif not self._short and self._calls() < self._settings.worker_concurrency:
                self._reserved += 1
                reserved = True
                then = Next(now + self._settings.lease_seconds, self._owner)
        try:
            done = await self._applier.complete_call(claim, outcome, now, then)
        finally:
            # A slot left unused is seen by a dispatcher short of slots when this task
            # ends (``_done``).
            self._reserved -= reserved
        if reserved and done.next is not None:
            self._inflight[done.next.item.id] = done.next  # in the reserved slot's stead
        if not done.applied:
            log.warning("executor.lease_lost", extra={"item": item.id, "run_id": item.run_id})
            return None
        if reply is not None and (updates := step_metadata.updates_in(reply, self._response_keys)):
            await self._store.update_metadata(item.run_id, updates, self._clock.now())
        self._log(outcome, item.run_id)
        kind = self._count(state.run.function_slug, outcome, reply)
        if kind in UNREACHABLE and function is not None:
            # The app is down or refuses this server: its sync error says so (the sync loop
            # tries it again, and clears it once it answers), and app.unreachable alerts if
            # it lasts.
            error = f"a call failed: {outcome.attempt.error or kind}"
            await self._store.set_app_error(function.app_url, error, self._clock.now())
        if done.next is not None:
            # It takes this call's slot (still counted until this returns). Should a write
            # above fail, its lease runs out and it is claimed again: nothing is lost.
            self._inflight[done.next.item.id] = done.next
        return done.next

    async def _until(self, due: float) -> None:
        """Wait until the clock reads ``due``. Once is not enough: the event loop ends a
        sleep up to its clock's resolution early (a millisecond on uvloop), and a sleep
        must never end before its time."""
        self._early += 1
        try:
            while (early := due - self._clock.now()) > 0:
                await self._clock.sleep(early)
        finally:
            self._early -= 1

    def _count(self, function: str, outcome: Outcome, reply: Reply | None) -> str | None:
        """Counts the call for /metrics and returns why it gave no usable answer, if so."""
        # How the run ended is counted by the store's tally: only if it had not ended.
        if reply is None:
            return None  # a timer fired, or the function is gone: no call was made
        attempt = outcome.attempt
        kind = None
        if attempt.outcome in ("retry", "failed"):
            kind = call_error_kind(
                reply.status, reply.error, reply.sdk is not None, attempt.error or ""
            )
        self._metrics.call(function, attempt, kind)
        return kind

    def _headers(self, run_id: str, item: QueueItem, body: bytes, version: int) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json",
            "X-Run-ID": run_id,
            "X-Inngest-Req-Version": str(version),
            "X-Inngest-Step-ID": item.step_id,
            "X-Request-ID": f"{item.id}-{item.attempt}",
            "X-Inngest-Job-ID": item.id,
            "X-Inngest-Server-Kind": self._settings.server_kind,
            "traceparent": traceparent(run_id, f"{item.id}-{item.attempt}"),
        }
        # Sent empty without a key, as Inngest's dev server does: a durable endpoint takes
        # a call with X-Run-ID and this header (even empty) as the server's, not a client's.
        headers["X-Inngest-Signature"] = (
            sign(body, self._settings.signing_key, self._clock.now())
            if self._settings.signing_key
            else ""
        )
        return headers

    def _log(self, outcome: Outcome, run_id: str) -> None:
        attempt = outcome.attempt
        if outcome.finish is not None:
            # A completed run is the common case: logged only at debug level, so a busy
            # server's log shows what needs attention.
            level = (
                logging.DEBUG if outcome.finish.status is RunStatus.COMPLETED else (logging.WARNING)
            )
            log.log(
                level,
                "run.%s",
                outcome.finish.status.value.lower(),
                extra={"run_id": run_id, "reason": attempt.error},
            )
        elif outcome.retry_at is not None:
            log.info(
                "step.retry",
                extra={
                    "run_id": run_id,
                    "step": attempt.step_id,
                    "attempt": attempt.attempt,
                    "reason": attempt.error,
                },
            )


def _first_call(claim: Claim, now: float) -> bool:
    """Whether ``claim`` starts its run: the claim of a run's first call stamps it started
    at ``now`` (a reclaim after a crash keeps the first stamp), and a first call has no
    memo recorded since the run was made (a frozen test clock stamps later calls alike;
    a rerun's copied memos are older than the run)."""
    state = claim.state
    return (
        state is not None
        and state.run.started_at == now
        and claim.item.kind is ItemKind.DISCOVERY
        and all(memo.recorded_at < state.run.created_at for memo in state.memos)
    )
