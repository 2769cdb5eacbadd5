"""Cancelling runs on request: one run (``DELETE /v1/runs/{id}``) or every active run of a
function that matches a time window and an expression (``POST /v1/cancellations``).

A cancellation is applied like any other event work, through ``runs.apply``: what ending
the run entails (its ``inngest/function.cancelled`` event, the invoking parent it resumes)
is stored in one transaction, then the worker is woken. The HTTP edge only parses the
request and renders the answer.
"""

from __future__ import annotations

from inlet.clock import Clock
from inlet.errors import BadRequest, Conflict, NotFound
from inlet.expr import compile_expression
from inlet.model import Run, RunStatus
from inlet.runs.apply import Applier
from inlet.runs.registry import Registry
from inlet.store import Store

BULK_REASON = "cancelled in bulk through the API (POST /v1/cancellations)"
BULK_LIMIT = 10_000
"""Most runs one bulk cancellation looks at; the rest wait for another request."""


def function_slug(registry: Registry, function_id: object, app_id: object) -> str:
    """The registered slug that ``function_id`` names, alone or prefixed with ``app_id``
    (SDKs send the short id and the app apart; the registry knows ``<app>-<fn>``)."""
    if not isinstance(function_id, str) or not function_id:
        raise BadRequest('function_id is required: the function\'s id, e.g. "myapp-charge"')
    candidates = [function_id]
    if isinstance(app_id, str) and app_id:
        candidates.append(f"{app_id}-{function_id}")
    for slug in candidates:
        if registry.get(slug) is not None:
            return slug
    known = ", ".join(sorted(registry.functions)) or "none"
    raise NotFound(f"function {function_id!r} is not registered; known functions: {known}")


class Canceller:
    """Cancels runs through ``runs.apply`` (route, store, wake) and reports the result."""

    def __init__(self, store: Store, applier: Applier, clock: Clock) -> None:
        self._store = store
        self._applier = applier
        self._clock = clock

    async def cancel(self, run_id: str, reason: str) -> Run:
        """The run after cancelling it. Cancelling a cancelled run again is not an error
        (a retried request gets the same answer); cancelling one that ended otherwise is."""
        cancelled = await self._applier.cancel(run_id, reason, self._clock.now())
        run = await self._store.get_run(run_id)
        if run is None:
            raise NotFound(f"run {run_id!r} not found")
        if not cancelled and run.status is not RunStatus.CANCELLED:
            raise Conflict(
                f"run {run_id} already ended as {run.status.value}; there is nothing to cancel"
            )
        return run

    async def cancel_many(
        self,
        slug: str,
        *,
        started_after: float | None,
        started_before: float | None,
        condition: str | None,
        reason: str = BULK_REASON,
    ) -> list[str]:
        """Ids of the active runs of ``slug`` cancelled now: those created in the window
        whose first event matches ``condition`` (an expression over ``event``). Runs that
        end while this is under way are passed over, not reported as errors.

        One read of the candidates, one of their states (the condition's events, and what
        their finish events carry) and one transaction that cancels them all, whatever
        the number of runs. Only a finish event that some run waits for (an invoking
        parent) costs a look-up of its listeners."""
        expression = compile_expression(condition) if condition else None
        runs = await self._store.list_runs(
            slug,
            active=True,
            created_after=started_after,
            created_before=started_before,
            limit=BULK_LIMIT,
        )
        if not runs:
            return []
        now = self._clock.now()
        states = await self._store.run_states([run.id for run in runs])
        if expression is not None:
            states = [
                state
                for state in states
                if expression.matches(
                    {"event": state.events[0].to_wire() if state.events else {}}, now=now
                )
            ]
        return list(await self._applier.cancel_many(states, reason, now))
