"""Applying events: route them, store them with everything they cause, wake the worker.

Every source of events goes through here: the event API, cron fires, the events a call
emits (invokes, and the system events of a run that ended) and cancellations asked for
through the API. Routing reads the store (waiting listeners, the run being cancelled);
the store then applies the events, the runs they start, the waits they resolve and the
runs they cancel in one transaction, so a crash never keeps half of it. The worker is
woken only once that transaction has committed: woken earlier, it could claim before the
work exists and go back to sleep.

A call's events differ in one way: they are applied with the call's outcome, inside
``store.complete``, so that they count only if the call's lease still held. That is why
there are two entry points, ``apply`` and ``complete``, over the same routing and wake-up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Protocol

from inlet.model import Cancellation, Event, NewRun, Outcome, RunState
from inlet.runs.router import Routed, Router
from inlet.steps import defer
from inlet.steps.finish import for_finish
from inlet.store import IngestResult, Store
from inlet.store.base import DEFERS_START, CallEnd, Claim, Completed, Next


class Starter(Protocol):
    """What the applier asks of the worker to start new runs without a claim round."""

    def offer(self, runs: int) -> Next | None:
        """Free slots held for the first calls of up to ``runs`` new runs, or None."""
        ...

    def adopt(self, offer: Next, claims: Sequence[Claim], now: float) -> None:
        """Call ``claims``, leased with ``offer``; free the slots they left unused."""
        ...


class Applier:
    """Routes events, has the store apply them atomically, then wakes the worker.

    ``key_ttl`` is how long an idempotency key (an event id, a cron fire) keeps a second
    run from being made; ``wake`` tells the worker that work may be due now. What the
    writes end and skip is counted by the store's tally (``Store.count_with``), wherever
    it happens in the transaction.
    """

    def __init__(
        self,
        store: Store,
        router: Router,
        key_ttl: float,
        wake: Callable[[], None],
    ) -> None:
        self._store = store
        self._router = router
        self._key_ttl = key_ttl
        self._wake = wake
        self.starter: Starter | None = None
        """The worker that calls the first calls of the runs an ingest creates, leased
        in its transaction; without one they wait for the worker's next claim."""

    async def apply(
        self,
        events: Sequence[Event],
        now: float,
        *,
        runs: Sequence[NewRun] = (),
        cancels: Sequence[Cancellation] = (),
        routed: asyncio.Event | None = None,
    ) -> IngestResult:
        """Store ``events`` and apply what they cause, in one transaction.

        ``runs`` are runs the caller planned itself, applied with those the events start
        (a cron fire's run is planned for its function alone, not by matching its event);
        ``cancels`` are cancellations asked for directly, applied with those the events
        cause. The worker is woken if a run was made, a wait resolved or a run cancelled.
        ``routed`` is set once the events are routed, before they are stored.
        """
        found = await self._route(events, now)
        if routed is not None:
            routed.set()
        return await self._ingest(
            events,
            replace(found, runs=(*runs, *found.runs), cancels=(*cancels, *found.cancels)),
            now,
        )

    async def apply_each(
        self, groups: Sequence[Sequence[Event]], now: float, routed: asyncio.Event | None = None
    ) -> list[tuple[str, ...]]:
        """``apply`` for several callers' events at once (concurrent requests of the event
        API): routed together and stored in one store call, so one transaction and one
        set of statements serves them all. The runs each group's events started, in the
        groups' order. An event a previous group already holds (the same id) is that
        group's: it starts nothing for a later one, as if they had been applied in turn.
        ``routed`` is set once they are routed, before they are stored."""
        events: list[Event] = []
        owner: dict[str, int] = {}
        for index, group in enumerate(groups):
            for event in group:
                if owner.setdefault(event.internal_id, index) == index:
                    events.append(event)
        found = await self._route(events, now)
        if routed is not None:
            routed.set()
        result = await self._ingest(events, found, now)
        created = set(result.run_ids)
        started: list[list[str]] = [[] for _ in groups]
        for run in found.runs:
            if run.id in created:
                started[owner[run.event_ids[0]]].append(run.id)
        return [tuple(ids) for ids in started]

    async def _ingest(self, events: Sequence[Event], routed: Routed, now: float) -> IngestResult:
        """Store the events with what routing found; the worker calls the first calls the
        ingest leased for it (``Starter``), and is woken for the rest."""
        starter, runs = self.starter, routed.runs
        offer = starter.offer(len(runs)) if starter is not None and runs else None
        try:
            result = await self._store.ingest(
                events,
                runs,
                now,
                self._key_ttl,
                routed.resumes,
                routed.cancels,
                routed.skips,
                then=offer,
            )
        except BaseException:
            # Should the ingest have committed all the same (cancelled while its write ran),
            # the calls it leased are claimed again once their leases run out.
            if starter is not None and offer is not None:
                starter.adopt(offer, (), now)
            raise
        if starter is not None and offer is not None:
            starter.adopt(offer, result.claims, now)
        # Every run made and called at once, none with timers, listeners or flow control
        # that may have queued or started more: nothing is left for the worker to claim.
        called = len(result.claims) == len(runs) and all(run.plain for run in runs)
        if (result.run_ids and not called) or result.resumed or result.cancelled:
            self._wake()
        return result

    async def cancel(self, run_id: str, reason: str, now: float) -> bool:
        """Cancel one run, with what its ending causes (its ``inngest/function.cancelled``
        event, the invoking parent that event resumes). True if this call cancelled it;
        False if the run does not exist or had already ended (by the time the store
        looked: a run that finishes meanwhile is not cancelled)."""
        cancellation = await self._router.cancellation(run_id, reason, now)
        if cancellation is None:
            return False
        result = await self.apply((), now, cancels=(cancellation,))
        return run_id in result.cancelled

    async def cancel_many(
        self, states: Sequence[RunState], reason: str, now: float
    ) -> tuple[str, ...]:
        """Cancel the runs of ``states`` (read by the caller, in one read) in ONE store
        transaction, each with what its ending causes, as ``cancel`` does for one run. The
        ids cancelled, in the order given; a run that had ended, or ends before the store
        applies this, is left out (the store checks each cancellation again)."""
        cancels = []
        for state in states:
            cancellation = await self._router.cancellation_of(state, reason, now)
            if cancellation is not None:
                cancels.append(cancellation)
        if not cancels:
            return ()
        result = await self.apply((), now, cancels=cancels)
        done = set(result.cancelled)
        return tuple(c.run_id for c in cancels if c.run_id in done)

    async def complete(self, claim: Claim, outcome: Outcome, now: float) -> bool:
        """Record a call's ``outcome`` with the events it emits (its own, such as an
        invoke's, and the system events of a run that ended) and what they cause, if
        ``claim``'s lease still holds. False, changing nothing, when it does not."""
        return (await self.complete_call(claim, outcome, now)).applied

    async def complete_call(
        self, claim: Claim, outcome: Outcome, now: float, then: Next | None = None
    ) -> Completed:
        """``complete``, and with ``then``, the run's next call leased in the same
        transaction when a claim would take it first (``Store.complete_call``): the
        worker calls it at once, and is woken only for the work this left queued or
        unparked (a freed concurrency slot).

        A run that completes or fails starts the deferred runs it recorded, known from
        the claim's state unless the run recorded steps while the call was out (a TS v4
        checkpoint, which may hold defers): then the store refuses the ending and the run
        is read again."""
        state = claim.state
        events = list(outcome.events)
        seen = None
        if outcome.finish is not None and state is not None:
            events.extend(for_finish(state, outcome.finish, now))
            if outcome.finish.status in DEFERS_START:
                events = _with_defers(state, outcome, events, now)
                seen = state.run.step_count
        done = await self._complete(claim, outcome, events, now, CallEnd(seen, then))
        if done.moved:
            fresh = await self._store.run_state(claim.item.run_id)
            if fresh is not None:
                events = _with_defers(fresh, outcome, events, now)
            done = await self._complete(claim, outcome, events, now, CallEnd(then=then))
        return done

    async def _complete(
        self, claim: Claim, outcome: Outcome, events: list[Event], now: float, end: CallEnd
    ) -> Completed:
        if events:
            routed = await self._route(events, now)
            outcome = replace(
                outcome,
                events=tuple(events),
                runs=routed.runs,
                resumes=routed.resumes,
                cancels=routed.cancels,
            )
        done = await self._store.complete_call(claim, outcome, now, self._key_ttl, end)
        left = len(outcome.enqueue) - (done.next is not None)  # queued, not leased
        made = left or outcome.runs or outcome.resumes or outcome.retry_at is not None
        if done.applied and (made or done.freed):
            self._wake()
        return done

    async def _route(self, events: Sequence[Event], now: float) -> Routed:
        # No events (a bare cancellation) need no look at the listeners.
        return await self._router.route(events, now) if events else Routed()


def _with_defers(state: RunState, outcome: Outcome, events: list[Event], now: float) -> list[Event]:
    """``events`` with the deferred runs of a run that ends as ``state`` holds them, and
    those of the ending call's memos."""
    kept = [e for e in events if e.name != defer.SCHEDULE]
    # A defer both checkpointed and in the reply is one event (its id is derived).
    started = {e.internal_id: e for e in defer.scheduled(state, outcome.memos, now)}
    return [*kept, *started.values()]
