"""Bulk operations: replay or cancel the runs of a function by status and time range
("re-run everything that failed since 17:00"), and replay the events it skipped while
paused.

An operation is stored first (``BulkOp``) and then carried out a page at a time by
whichever process leads the ``bulk`` job, its cursor and progress stored after each page,
so a restart carries on where it stopped. A replayed run is keyed by the operation and the
run it replays, so a page done twice (a crash between the runs and the progress) makes
nothing twice. Runs are walked newest first, and only those created before the operation
was, so the runs a replay makes are never replayed by it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import replace

from inlet.clock import Clock
from inlet.errors import Conflict, InvalidValue, NotFound
from inlet.ids import new_ulid
from inlet.model import NewRun, RunStatus
from inlet.runs.apply import Applier
from inlet.runs.rerun import Rerunner
from inlet.store import Store
from inlet.store.operations import PAUSED, SKIPPED, BulkKind, BulkOp
from inlet.store.queries import RunFilter

log = logging.getLogger("inlet.bulk")

PAGE = 100
"""Runs (or skipped events) one step looks at."""
IDLE = 1.0
"""Seconds between looks for work when no operation is running."""
SCHEDULED = "inngest/scheduled.timer"
"""A cron fire's event: a paused function's missed fires are not replayed."""


def statuses_of(kind: BulkKind, names: Sequence[str]) -> tuple[str, ...]:
    """The statuses an operation selects, checked and spelled as REST API v1 does (any
    case accepted): run statuses, and ``Skipped`` (the events a paused function skipped)
    for a replay."""
    if not names:
        raise InvalidValue('statuses is empty: name at least one, e.g. ["Failed"]')
    allowed = [s.v1_name for s in RunStatus] + ([SKIPPED] if kind == "replay" else [])
    found: list[str] = []
    for name in names:
        spelled = next((a for a in allowed if a.lower() == name.strip().lower()), None)
        if spelled is None:
            raise InvalidValue(
                f"status {name!r} can't be {kind}ed in bulk; expected one of {', '.join(allowed)}"
            )
        found.append(spelled)
    return tuple(dict.fromkeys(found))


def _run_statuses(op: BulkOp) -> tuple[RunStatus, ...]:
    return tuple(RunStatus(s.upper()) for s in op.statuses if s != SKIPPED)


def _where(op: BulkOp) -> RunFilter:
    return RunFilter(
        function_slug=op.function_slug,
        statuses=_run_statuses(op),
        created_after=op.created_after,
        created_before=op.created_before,
    )


class BulkOps:
    """Makes, previews, cancels and carries out bulk operations."""

    def __init__(
        self,
        store: Store,
        applier: Applier,
        rerunner: Rerunner,
        clock: Clock,
        pace: float = 0.0,
    ) -> None:
        self._pace = pace
        self._store = store
        self._applier = applier
        self._rerunner = rerunner
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._stepping = asyncio.Lock()

    # Asked for through the API

    async def count(self, op: BulkOp) -> int:
        """How many runs (and skipped events) ``op`` selects: its preview."""
        total = 0
        if _run_statuses(op):
            counts = await self._store.run_counts(_where(op))
            total += sum(counts.get(s, 0) for s in _run_statuses(op))
        if SKIPPED in op.statuses:
            total += await self._store.count_skipped(
                op.function_slug, PAUSED, op.created_after, op.created_before
            )
        return total

    def draft(
        self,
        kind: BulkKind,
        function_slug: str,
        statuses: Sequence[str],
        created_after: float | None,
        created_before: float | None,
        name: str = "",
    ) -> BulkOp:
        """An operation as asked for, not stored: ``create`` stores it, ``count`` previews."""
        now = self._clock.now()
        before = now if created_before is None else min(created_before, now)
        if created_after is not None and created_after >= before:
            raise InvalidValue(
                f"the time range is empty: created_after ({created_after}) is not before "
                f"created_before ({before})"
            )
        return BulkOp(
            id=new_ulid(now),
            kind=kind,
            function_slug=function_slug,
            statuses=statuses_of(kind, statuses),
            created_after=created_after,
            created_before=before,
            name=name,
            state="running",
            total=0,
            created_at=now,
            updated_at=now,
        )

    async def create(self, draft: BulkOp) -> BulkOp:
        op = replace(draft, total=await self.count(draft))
        await self._store.create_bulk(op)
        log.info("bulk.created", extra={"op": op.id, "kind": op.kind, "total": op.total})
        self._wake.set()
        return op

    async def list(self) -> list[BulkOp]:
        return await self._store.list_bulk()

    async def get(self, op_id: str) -> BulkOp:
        op = await self._store.get_bulk(op_id)
        if op is None:
            raise NotFound(f"bulk operation {op_id!r} does not exist")
        return op

    async def cancel(self, op_id: str) -> BulkOp:
        """Stop an operation; what it already did stays done."""
        op = await self.get(op_id)
        if op.finished:
            if op.state == "cancelled":
                return op
            raise Conflict(f"bulk operation {op_id} already ended as {op.state}")
        await self._store.update_bulk(replace(op, state="cancelled", updated_at=self._clock.now()))
        return await self.get(op_id)

    # Carried out in the background

    @property
    def alive(self) -> bool:
        """Its loop runs: started, and not ended by an error (``/health/ready``)."""
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="inlet-bulk")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _loop(self) -> None:
        while True:
            try:
                busy = await self.step()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("bulk.step_failed")
                busy = False
            if busy and self._pace > 0:
                await self._clock.sleep(self._pace)  # spread a large operation over time
            if not busy:
                self._wake.clear()
                # asyncio.timeout, not wait_for: 3.11's wait_for can swallow the cancel
                # that stop() sends when the wake-up lands at the same moment.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(IDLE):
                        await self._wake.wait()

    async def step(self) -> bool:
        """One page of every running operation; True while some have more to do."""
        async with self._stepping:  # the loop and a caller (a test) never step at once
            return await self._step()

    async def _step(self) -> bool:
        if not await self._store.lead("bulk"):
            return False
        running = [op for op in await self._store.list_bulk(limit=100) if not op.finished]
        for op in running:
            try:
                await self._page(op)
            except (NotFound, Conflict, InvalidValue) as exc:
                failed = replace(op, state="failed", error=exc.message)
                await self._store.update_bulk(replace(failed, updated_at=self._clock.now()))
        return bool(running)

    async def _page(self, op: BulkOp) -> None:
        phase, _, position = (op.cursor or "runs:").partition(":")
        if phase == "runs" and _run_statuses(op):
            page = await self._store.runs(_where(op), limit=PAGE, after=position or None)
            changed = await self._apply(op, [run.id for run in page.runs])
            following = f"runs:{page.next}" if page.next else "skips:"
            await self._progress(op, len(page.runs), changed, following)
            return
        if SKIPPED in op.statuses:
            at, _, event_id = position.partition(":")
            after = (float(at), event_id) if event_id else None
            skipped = await self._store.skipped_events(
                op.function_slug, PAUSED, op.created_after, op.created_before, after, PAGE
            )
            changed = await self._replay_skipped(op, [event_id for event_id, _ in skipped])
            last = skipped[-1] if len(skipped) == PAGE else None
            cursor = f"skips:{last[1]!r}:{last[0]}" if last else None
            await self._progress(op, len(skipped), changed, cursor)
            return
        await self._progress(op, 0, 0, None)

    async def _progress(self, op: BulkOp, seen: int, changed: int, cursor: str | None) -> None:
        done = cursor is None
        moved = replace(
            op,
            done=op.total if done else min(op.done + seen, op.total),
            changed=op.changed + changed,
            cursor=cursor,
            state="done" if done else "running",
            updated_at=self._clock.now(),
        )
        await self._store.update_bulk(moved)
        if done:
            log.info("bulk.done", extra={"op": op.id, "changed": moved.changed})

    async def _apply(self, op: BulkOp, run_ids: Sequence[str]) -> int:
        if not run_ids:
            return 0
        now = self._clock.now()
        states = await self._store.run_states(run_ids)
        if op.kind == "cancel":
            reason = f"cancelled in bulk by operation {op.id}" + (
                f" ({op.name})" if op.name else ""
            )
            return len(await self._applier.cancel_many(states, reason, now))
        runs = [
            self._rerunner.plan(state, f"replay:{op.id}:{state.run.id}", now)
            for state in states
            if state.events
        ]
        return await self._make(runs, now)

    async def _replay_skipped(self, op: BulkOp, event_ids: Sequence[str]) -> int:
        now = self._clock.now()
        runs = []
        for event_id in event_ids:
            event = await self._store.get_event(event_id)
            if event is None or event.name == SCHEDULED:
                continue
            key = f"replay:{op.id}:{event_id}"
            runs.append(self._rerunner.plan_events(op.function_slug, (event,), key, now))
        return await self._make(runs, now)

    async def _make(self, runs: Sequence[NewRun], now: float) -> int:
        if not runs:
            return 0
        result = await self._applier.apply((), now, runs=runs)
        return len(result.run_ids)
