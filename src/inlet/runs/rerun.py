"""Running a function again: a rerun of one run (from the start, or from a step with the
outputs of the steps before it kept), and the runs a replay makes.

A rerun is a new run of the same function with the same events. It passes the flow
control that protects the app (concurrency, priority, throttle) but not the gates that
would refuse it for being a repeat (idempotency, rate limit, debounce, batch, singleton):
the operator asked for exactly this run. It is made once per key, so a replay that is
interrupted and carried on never runs one run twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from inlet.errors import Conflict, InvalidValue, NotFound
from inlet.ids import new_ulid
from inlet.model import STEP_DISCOVERY, Attempt, Event, NewRun, RunState, StoredMemo
from inlet.runs.apply import Applier
from inlet.runs.registry import Registry
from inlet.store import Store
from inlet.store.operations import PAUSED


def step_names(history: Sequence[Attempt], memos: Sequence[StoredMemo]) -> list[str]:
    """The steps a run went through, in order, by the name a user knows them by."""
    seen: dict[str, None] = {}
    for memo in sorted(memos, key=lambda m: m.seq):
        seen.setdefault(memo.name or memo.step_id, None)
    for attempt in history:
        if attempt.name and attempt.step_id != STEP_DISCOVERY:
            seen.setdefault(attempt.name, None)
    return list(seen)


def _ran(step: str, attempt: Attempt) -> bool:
    """Whether ``attempt`` ran ``step`` (a discovery call may run a step too)."""
    if step in (attempt.op_step, attempt.name) and attempt.name != STEP_DISCOVERY:
        return True
    return step == attempt.step_id and attempt.step_id != STEP_DISCOVERY


def memos_before(
    step: str, history: Sequence[Attempt], memos: Sequence[StoredMemo]
) -> tuple[StoredMemo, ...]:
    """The outputs of the steps done before ``step`` (its id or name): what a rerun from
    ``step`` keeps. A step that finished keeps those recorded before its own; one that
    never finished (the step that failed) keeps them all, since code runs no step past
    one that has not returned. Raises ``InvalidValue`` naming the run's steps when it has
    none called ``step``."""
    ordered = sorted(memos, key=lambda m: m.seq)
    memo = next((m for m in ordered if step in (m.step_id, m.name)), None)
    if memo is not None:
        kept = [m for m in ordered if m.seq < memo.seq]
    elif any(_ran(step, a) for a in history):
        kept = ordered
    else:
        known = ", ".join(repr(s) for s in step_names(history, memos)) or "none"
        raise InvalidValue(f"from_step {step!r} is not a step of this run; its steps: {known}")
    # Renumbered from 0: the new run's own steps follow these.
    return tuple(replace(m, seq=i) for i, m in enumerate(kept))


def as_rerun(run: NewRun) -> NewRun:
    """``run`` without the gates that refuse a repeat (see the module's docstring)."""
    flow = replace(
        run.flow,
        rate_limit=None,
        idempotency=None,
        debounce=None,
        batch=None,
        singleton=None,
    )
    return replace(run, flow=flow)


class Rerunner:
    """Plans reruns and replays against the current registry; the ``Applier`` makes them."""

    def __init__(self, store: Store, applier: Applier, registry: Callable[[], Registry]) -> None:
        self._store = store
        self._applier = applier
        self._registry = registry

    def plan(self, state: RunState, key: str, now: float) -> NewRun:
        """A rerun of ``state``'s run from the start, made once per ``key``."""
        return self.plan_events(state.run.function_slug, state.events, key, now)

    def plan_events(
        self, function_slug: str, events: Sequence[Event], key: str, now: float
    ) -> NewRun:
        fn = self._registry().get(function_slug)
        if fn is None:
            raise NotFound(
                f"function {function_slug!r} is no longer registered: sync its app to run it"
            )
        if not events:
            raise Conflict(f"the events that started a run of {function_slug!r} are gone")
        return as_rerun(self._registry().plan_for(fn, events, key, now, now))

    async def rerun(self, run_id: str, now: float, from_step: str | None = None) -> str:
        """Start a new run like ``run_id`` (from ``from_step``, keeping the outputs of the
        steps before it, if given); returns its id."""
        state = await self._store.run_state(run_id)
        if state is None:
            raise NotFound(f"run {run_id!r} does not exist")
        new = self.plan(state, f"rerun:{new_ulid(now)}", now)
        if from_step is not None:
            history = await self._store.history(run_id)
            new = replace(new, memos=memos_before(from_step, history, state.memos))
        result = await self._applier.apply((), now, runs=(new,))
        if new.id not in result.run_ids:
            paused = await self._store.paused_functions()
            if new.function_slug in paused:
                raise Conflict(
                    f"function {new.function_slug!r} is paused ({PAUSED}): resume it to rerun"
                )
            raise Conflict(f"the rerun of {run_id!r} was not made")
        return new.id
