"""Where events go: the runs they start, the waits they resolve, the runs they cancel.

Both accepted events (the event API) and events the server emits (finished runs, invokes)
pass through here before the store applies everything in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from inlet.expr import compile_expression
from inlet.model import (
    Cancellation,
    Event,
    Finish,
    ListenerKind,
    NewRun,
    Resume,
    RunState,
    RunStatus,
    SkipSet,
)
from inlet.runs.registry import Registry
from inlet.steps.finish import for_finish, standard_error
from inlet.steps.waits import invoke_result
from inlet.store import Store

MAX_DEPTH = 2
"""Cancelling a run emits events that may resolve an invoking parent; that far, no further."""


@dataclass(frozen=True, slots=True)
class Routed:
    runs: tuple[NewRun, ...] = ()
    resumes: tuple[Resume, ...] = ()
    cancels: tuple[Cancellation, ...] = ()
    skips: tuple[SkipSet, ...] = ()
    """Why the events start no run of some functions listening to them."""


class Router:
    def __init__(self, store: Store, registry: Callable[[], Registry]) -> None:
        self._store = store
        self._registry = registry

    async def route(self, events: Sequence[Event], now: float, depth: int = 0) -> Routed:
        runs, skips = self._registry().plan_and_skips(events, now)
        candidates = await self._store.find_listeners(events)
        resumes: dict[str, Resume] = {}
        to_cancel: dict[str, str] = {}
        for event in events:
            listeners = candidates.get(event.internal_id)
            if not listeners:
                continue
            variables = {"async": event.to_wire()}
            for listener in listeners:
                if listener.expires_at < now or listener.id in resumes:
                    continue
                if listener.expression is not None and not compile_expression(
                    listener.expression
                ).matches(variables, now=now):
                    continue
                if listener.kind is ListenerKind.CANCEL:
                    to_cancel.setdefault(
                        listener.run_id, f"cancelled by event {event.name!r} ({event.id})"
                    )
                    continue
                memo = (
                    invoke_result(event)
                    if listener.kind is ListenerKind.INVOKE
                    else event.to_wire()
                )
                resumes[listener.id] = Resume(listener.id, listener.run_id, listener.step_id, memo)
        cancels = []
        if depth < MAX_DEPTH:
            for run_id, reason in to_cancel.items():
                cancel = await self.cancellation(run_id, reason, now, depth + 1)
                if cancel is not None:
                    cancels.append(cancel)
        return Routed(tuple(runs), tuple(resumes.values()), tuple(cancels), tuple(skips))

    async def cancellation(
        self, run_id: str, reason: str, now: float, depth: int = 0
    ) -> Cancellation | None:
        """What cancelling ``run_id`` entails, or None if it has ended (the store checks
        again when it applies it)."""
        state = await self._store.run_state(run_id)
        if state is None:
            return None
        return await self.cancellation_of(state, reason, now, depth)

    async def cancellation_of(
        self, state: RunState, reason: str, now: float, depth: int = 0
    ) -> Cancellation | None:
        """What cancelling the run of ``state`` (already read) entails; None if it ended.
        Its finish events are routed on their own: what they cause (an invoking parent
        resumed) must be stored only if this run's cancel applies."""
        if state.run.status.ended:
            return None
        error = standard_error("FunctionCancelled", reason)
        events = for_finish(state, Finish(RunStatus.CANCELLED, error=error), now)
        follow = await self.route(events, now, depth) if events else Routed()
        return Cancellation(state.run.id, error, tuple(events), follow.runs, follow.resumes)
