"""The one ``Store`` interface every backend implements, in the verbs of the domain.

Contract (checked by ``tests/store``, run against every backend):

- Every write that may be repeated after a crash is guarded by a unique key and a repeat
  is a no-op: an event by its internal id, a run by ``(function, key)`` for the key's
  lifetime, a memo by ``(run, step)``.
- ``claim`` leases due items: a leased item is not claimed again until its lease expires
  (its ``due_at`` moves to the lease expiry), which is how a dead worker's work is taken
  over. ``complete`` applies an ``Outcome`` only while the caller still holds the lease it
  claimed; otherwise it changes nothing and returns False (a stale worker is fenced).
- ``complete`` and ``ingest`` are atomic.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from inlet.metrics import Tally, Watcher
from inlet.model import (
    App,
    Cancellation,
    Event,
    Function,
    Listener,
    NewRun,
    Outcome,
    QueueItem,
    Resume,
    RunState,
    RunStatus,
    SkipSet,
)
from inlet.steps.checkpoint import Checkpoint, StateLimits, Verdict
from inlet.steps.endpoint import Report
from inlet.store.alerts import Alert, AlertState, Delivery, DeliveryState
from inlet.store.metadata import MetadataUpdate, RunMetadata
from inlet.store.operations import BulkOp
from inlet.store.queries import ReadModel
from inlet.store.retention import PurgeResult
from inlet.store.stalls import StallReads
from inlet.store.tokens import ApiToken
from inlet.store.users import LoginSession, User
from inlet.store.waiting import WaitReads


@dataclass(frozen=True, slots=True)
class IngestResult:
    new_event_ids: tuple[str, ...]
    """Events stored by this call (a repeat of a stored event is not new)."""
    run_ids: tuple[str, ...]
    """Runs created by this call (a run whose key already exists is not created)."""
    resumed: tuple[str, ...] = ()
    """Listeners that resolved their step (a listener already gone resolves nothing)."""
    cancelled: tuple[str, ...] = ()
    """Runs cancelled (a run that had already ended is not)."""
    claims: tuple[Claim, ...] = ()
    """The first calls of created runs, leased in the same transaction (``then``)."""


@dataclass(frozen=True, slots=True)
class Claim:
    """A leased queue item. ``lease`` is the fencing token ``complete`` needs."""

    item: QueueItem
    lease: str
    state: RunState | None = None
    """The run as it was when claimed (None if it is gone), loaded with the claim so a call
    needs no second trip to the store."""


DEFERS_START = (RunStatus.COMPLETED, RunStatus.FAILED)
"""The endings that start a run's deferred runs (``inlet.steps.defer``)."""


@dataclass(frozen=True, slots=True)
class Next:
    """Asks a write to lease calls it makes due at once: a completion its run's next call
    (``Store.complete_call``), an ingest the first calls of the runs it creates, up to
    ``calls`` (``Store.ingest``); until when, for which worker (the owner its lease
    tokens name)."""

    lease_until: float
    owner: str
    calls: int = 1


@dataclass(frozen=True, slots=True)
class CallEnd:
    """What the executor knows and asks for when it completes a call
    (``Store.complete_call``)."""

    seen: int | None = None
    """The run's step count in the claim's state: an ending is refused if it changed."""
    then: Next | None = None
    """Lease the run's next call at once, for this worker."""


@dataclass(frozen=True, slots=True)
class Completed:
    """What ``Store.complete_call`` did."""

    applied: bool
    """The lease held and the outcome was applied; False: nothing changed."""
    moved: bool = False
    """Not applied because the run recorded steps while the call was out (``CallEnd.seen``)."""
    next: Claim | None = None
    """The run's next call, leased in the same transaction (``CallEnd.then``)."""
    freed: bool = False
    """The call held concurrency slots, now free: a call parked behind them may be due."""
    taken: Callable[[], bool] | None = field(default=None, compare=False, repr=False)
    """Between the engine and its store: whether ``next`` was leased, asked once the
    transaction committed (:meth:`settled` drops ``next`` if it was not)."""

    def settled(self) -> Completed:
        """As the caller sees it: ``next`` only if the transaction leased it."""
        if self.taken is None:
            return self
        return replace(self, next=self.next if self.taken() else None, taken=None)


class Store(StallReads, WaitReads, ReadModel):
    """Persistence for apps, events, runs, memos, the queue and the run history: the
    engine's write verbs here, the reads in :class:`~inlet.store.queries.ReadModel`."""

    shared = False
    """Whether other inlet processes may use the same database at the same time."""

    async def open(self) -> None:
        """Prepare the backend (connect, migrate). Called once before use."""

    async def close(self) -> None:
        """Release the backend's resources."""

    def watch(self, on_work: Callable[[], None], on_functions: Callable[[], None]) -> None:
        """Call ``on_work`` (on the event loop) when another process queued work that is
        due soon, and ``on_functions`` when it stored an app's functions. Only a shared
        backend has other processes; polling stays the correctness path."""

    async def lead(self, job: str) -> bool:
        """Whether this process is (or has just become) the one that runs ``job`` (cron):
        always, unless other processes share the database."""
        return True

    _tally_watcher: Watcher | None = None

    def count_with(self, watcher: Watcher) -> None:
        """Hand ``watcher`` the tally of each committed ``ingest``, ``complete`` and
        ``claim`` (the runs it ended, the events it skipped, the starts it delayed): what
        ``/metrics`` counts, whatever path led to the write."""
        self._tally_watcher = watcher

    def _counted(self, tally: Tally) -> None:
        if tally and self._tally_watcher is not None:
            self._tally_watcher(tally)

    # Apps and functions

    @abc.abstractmethod
    async def save_app(self, app: App, functions: Sequence[Function]) -> bool:
        """Store an app and its complete function set; functions it no longer has are
        removed. Returns True when anything changed (the app's checksum differs)."""

    @abc.abstractmethod
    async def set_app_error(self, url: str, error: str | None, now: float) -> None:
        """Record (or clear) why syncing the app at ``url`` failed."""

    # Events and runs

    @abc.abstractmethod
    async def ingest(
        self,
        events: Sequence[Event],
        runs: Sequence[NewRun],
        now: float,
        key_ttl: float,
        resumes: Sequence[Resume] = (),
        cancels: Sequence[Cancellation] = (),
        skips: Sequence[SkipSet] = (),
        then: Next | None = None,
    ) -> IngestResult:
        """Atomically: store events; record why they start no run of the functions in
        ``skips`` (for the events stored by this call only: a retried send is not news);
        create the runs they start, each with a discovery
        item due at ``run.due_at`` and its listeners and timers (a run whose
        ``(function, key)`` was used less than ``key_ttl`` seconds ago is not created);
        resolve waiting steps; cancel runs.

        A resume applies only if it removes its listener (so two events never resolve one
        wait) and the run has not ended: it records the memo, drops the step's timer and
        enqueues a discovery. A cancellation applies only to a run that has not ended: it
        drops the run's items and listeners and stores its events, runs and resumes.

        With ``then``, the first calls of created runs are leased for that worker, up to
        ``then.calls``, while a claim at ``now`` would take them first
        (``IngestResult.claims``): the worker calls them without a claim of its own."""

    @abc.abstractmethod
    async def find_listeners(self, events: Sequence[Event]) -> dict[str, list[Listener]]:
        """For each event (by internal id), the listeners its name and indexed values
        select; their conditions are still to be evaluated. Expired ones may be included."""

    @abc.abstractmethod
    async def cron_cursors(self) -> dict[tuple[str, str], float]:
        """``(function, cron expression) -> last fire made`` for every cron seen."""

    @abc.abstractmethod
    async def set_cron_cursor(self, function_slug: str, expression: str, last_fire: float) -> None:
        """Record how far a cron's fires have been made (only ever forward)."""

    # Queue

    @abc.abstractmethod
    async def claim(
        self,
        now: float,
        limit: int,
        lease_until: float,
        owner: str,
        *,
        timers: int = 0,
        timers_ahead: float = 0.0,
    ) -> list[Claim]:
        """Lease up to ``limit`` items due at ``now``, earliest first, each with its run's
        state; and before them, beyond ``limit``, up to ``timers`` due timer items (a timer
        makes no call, so it neither needs a call slot nor waits behind due calls), those
        due up to ``timers_ahead`` seconds after ``now`` included: the worker fires each at
        its time, with no claim on the way (its lease fences off whatever resolved or ended
        the step meanwhile)."""

    @abc.abstractmethod
    async def extend_leases(self, claims: Sequence[Claim], lease_until: float) -> None:
        """Push the expiry of leases still held (long calls)."""

    @abc.abstractmethod
    async def next_due(self) -> float | None:
        """When the earliest item becomes due (leased items: when their lease expires)."""

    async def complete(self, claim: Claim, outcome: Outcome, now: float, key_ttl: float) -> bool:
        """Apply a call's outcome and record its attempt, atomically, if ``claim``'s
        lease is still held. Returns False, changing nothing, when it is not.

        A memo recorded for a waiting step (sleep, wait, invoke) also removes that step's
        listener and timer; a finished run loses its items and listeners. The outcome's
        events, runs, resumes and cancellations are applied as by ``ingest``."""
        return (await self.complete_call(claim, outcome, now, key_ttl, CallEnd())).applied

    @abc.abstractmethod
    async def complete_call(
        self, claim: Claim, outcome: Outcome, now: float, key_ttl: float, end: CallEnd
    ) -> Completed:
        """``complete``, with two savings for the executor, in the same transaction.

        With ``end.seen`` (the run's step count in ``claim.state``), an outcome that
        completes or fails the run is not applied (``moved``) if the run has recorded steps
        since: a TS v4 checkpoint may have recorded defers, whose runs the caller must
        start too. With ``end.then``, the run's next call that this outcome queues due now
        is leased and returned with the run's state, when a ``claim`` would take it first
        (no concurrency key, nothing due ranked before it); otherwise it waits for a
        claim."""

    @abc.abstractmethod
    async def checkpoint(self, cp: Checkpoint, limits: StateLimits, now: float) -> Verdict:
        """Record the steps a call in flight ran (TS v4 checkpointing) as its 206 reply
        would, and set its item's attempt back to 0, atomically, if the call's lease still
        holds the item and the run goes on (``inlet.store.engine.checkpoint``)."""

    @abc.abstractmethod
    async def record_endpoint(
        self, run_id: str, report: Report, limits: StateLimits, now: float
    ) -> Verdict:
        """Record what a durable endpoint reported for its run, atomically: its steps, and
        its end or that it went async (``inlet.store.engine.endpoint``)."""

    @abc.abstractmethod
    async def revive(self, run_id: str, now: float) -> bool:
        """Give a stuck run a discovery call due now (see ``stuck_runs``), atomically, if
        it is still stuck; records it in the run's history. False when it is not."""

    @abc.abstractmethod
    async def release_all(self) -> int:
        """Drop every lease (a single-process backend at start-up: nobody else holds
        them). Returns how many were released."""

    # Operating: paused functions and bulk operations (``inlet.store.operations``)

    @abc.abstractmethod
    async def set_paused(self, function_slug: str, paused_at: float | None) -> bool:
        """Pause a function from ``paused_at`` (``None``: resume it). A paused function
        starts no run: ``ingest`` records each event it skips with the reason ``PAUSED``.
        True when this changed anything (pausing a paused function does not)."""

    @abc.abstractmethod
    async def paused_functions(self) -> dict[str, float]:
        """``slug -> paused at`` for every paused function."""

    @abc.abstractmethod
    async def create_bulk(self, op: BulkOp) -> None:
        """Store a new bulk operation; an id already stored raises ``StoreError``."""

    @abc.abstractmethod
    async def get_bulk(self, op_id: str) -> BulkOp | None: ...

    @abc.abstractmethod
    async def list_bulk(self, limit: int = 50) -> list[BulkOp]:
        """The newest bulk operations first."""

    @abc.abstractmethod
    async def update_bulk(self, op: BulkOp) -> bool:
        """Record an operation's progress, state and error, only while it is running:
        False, changing nothing, once it has finished (a cancel is never overwritten)."""

    @abc.abstractmethod
    async def skipped_events(
        self,
        function_slug: str,
        reason: str,
        after: float | None,
        before: float,
        cursor: tuple[float, str] | None,
        limit: int,
    ) -> list[tuple[str, float]]:
        """``(event internal id, skipped at)`` of the events ``function_slug`` skipped for
        ``reason`` in ``[after, before]``, newest first, strictly after ``cursor``."""

    @abc.abstractmethod
    async def count_skipped(
        self, function_slug: str, reason: str, after: float | None, before: float
    ) -> int: ...

    # Retention (``inlet.store.retention``)

    @abc.abstractmethod
    async def purge(
        self,
        before: float,
        limit: int,
        now: float,
        *,
        function_slug: str | None = None,
        exclude: Sequence[str] = (),
    ) -> PurgeResult:
        """Delete, in one transaction, up to ``limit`` runs that ended before ``before``
        (of ``function_slug``, or of every function but those in ``exclude``) with their
        attempts, memos and event links, then the events nobody needs any more: those of
        the deleted runs (``function_slug``), or up to ``limit`` received before ``before``
        (every function), with their skips; and then up to ``limit`` run keys expired at
        ``now``. Runs in flight are never deleted; an event stays while a run refers to
        it, a waiting run may be matched with it or a call in flight may ask for it."""

    # Alerts and their outbox (``inlet.store.alerts``)

    @abc.abstractmethod
    async def fire(self, alert: Alert, targets: Sequence[str], now: float) -> bool:
        """Atomically store ``alert`` as firing with a ``fired`` delivery due at ``now`` for
        each of ``targets``, unless an alert of the same ``(rule, subject)`` is firing:
        then False, changing nothing (an alert fires once until it resolves)."""

    @abc.abstractmethod
    async def resolve(self, rule: str, subject: str, now: float, targets: Sequence[str]) -> bool:
        """Atomically mark the firing alert of ``(rule, subject)`` resolved at ``now`` with a
        ``resolved`` delivery for each of ``targets``. False when none is firing."""

    @abc.abstractmethod
    async def due_deliveries(self, now: float, limit: int) -> list[Delivery]:
        """Up to ``limit`` deliveries not yet made and due at ``now``, soonest first."""

    @abc.abstractmethod
    async def mark_delivered(self, delivery_id: str, now: float) -> bool:
        """Record that a delivery was made; False (changing nothing) if it already was."""

    @abc.abstractmethod
    async def mark_failed(self, delivery_id: str, error: str, next_at: float) -> bool:
        """Record a failed attempt and when to try again; False once it was delivered."""

    @abc.abstractmethod
    async def alert_deliveries(self, alert_ids: Sequence[str]) -> list[DeliveryState]:
        """The outbox rows of these alerts, delivered or not, by alert then row id."""

    @abc.abstractmethod
    async def list_alerts(self, state: AlertState | None = None, limit: int = 50) -> list[Alert]:
        """The newest alerts first (only those in ``state`` when given)."""

    # API tokens (``inlet start``): only hashes are stored

    @abc.abstractmethod
    async def create_token(self, token: ApiToken) -> None:
        """Store a new token; an id or hash already stored raises ``StoreError``."""

    @abc.abstractmethod
    async def token_by_hash(self, token_hash: str) -> ApiToken | None:
        """The token with this hash, revoked or not (the caller decides)."""

    @abc.abstractmethod
    async def list_tokens(self) -> list[ApiToken]:
        """Every token, revoked ones too, oldest first."""

    @abc.abstractmethod
    async def revoke_token(self, token_id: str, now: float) -> bool:
        """Revoke a token for good. False when there is no such token or it was revoked."""

    @abc.abstractmethod
    async def touch_token(self, token_id: str, now: float) -> None:
        """Note that a token was used at ``now`` (only ever forward)."""

    # Dashboard users and sessions (``inlet start``): only hashes are stored

    @abc.abstractmethod
    async def create_user(self, user: User) -> None:
        """Store a new user; an id or name already stored raises ``StoreError``."""

    @abc.abstractmethod
    async def user_by_name(self, name: str) -> User | None: ...

    @abc.abstractmethod
    async def list_users(self) -> list[User]:
        """Every user, by name."""

    @abc.abstractmethod
    async def remove_user(self, name: str) -> bool:
        """Remove a user and end their sessions. False when there is no such user."""

    @abc.abstractmethod
    async def create_session(self, session: LoginSession) -> None:
        """Store a new session; a hash already stored raises ``StoreError``."""

    @abc.abstractmethod
    async def session_by_hash(self, session_hash: str, now: float) -> LoginSession | None:
        """The session with this hash if it has not expired at ``now``."""

    @abc.abstractmethod
    async def extend_session(self, session_hash: str, expires_at: float) -> None:
        """Move a session's expiry to ``expires_at`` (only ever forward)."""

    @abc.abstractmethod
    async def end_session(self, session_hash: str) -> None:
        """Log out: the session is gone (ending it twice is not an error)."""

    @abc.abstractmethod
    async def end_expired_sessions(self, now: float) -> int:
        """Delete the sessions expired at ``now``; returns how many."""

    # Run metadata (``POST /v1/runs/{id}/metadata``)

    @abc.abstractmethod
    async def update_metadata(
        self, run_id: str, updates: Sequence[MetadataUpdate], now: float
    ) -> bool:
        """Apply ``updates`` in order (``inlet.store.metadata.apply``), in one transaction.
        False, changing nothing, when there is no such run."""

    @abc.abstractmethod
    async def run_metadata(self, run_id: str) -> list[RunMetadata]:
        """A run's metadata by step (the run's own, ``""``, first) and kind."""
