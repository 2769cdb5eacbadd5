"""One evaluation of every rule: the store reads each needs, bounded and made once a round
by the leader of the ``alerts`` job, handed to the pure rules (``rules.py``,
``stalls.py``), which decide.

Reads: per function its newest finished runs (or its counts over a window); the queue's
statistics; the apps and since when each fails to sync; the quiet runs; the skipped
events of the window, and the newest run of the functions that skipped them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Final

from inlet.alerts.rules import (
    APP_UNREACHABLE,
    EVENTS_NO_RUNS,
    FUNCTION_FAILING,
    RUN_NO_PROGRESS,
    Clear,
    Decision,
    Rules,
    failing_function,
    failing_in_window,
    queue_late,
    unreachable_app,
)
from inlet.alerts.stalls import no_progress, no_runs
from inlet.model import App, Function, RunStatus
from inlet.store import Store
from inlet.store.alerts import Alert
from inlet.store.queries import RunFilter
from inlet.store.stalls import QuietRun

log = logging.getLogger("inlet.alerts")

FINISHED: Final = (RunStatus.COMPLETED, RunStatus.FAILED)
QUIET_LIMIT: Final = 1000
"""Quiet runs read a round: beyond it, no ``run.no_progress`` alert is resolved that round
(the runs not read may still be quiet)."""
QUIET_EVERY: Final = 60.0
"""Longest time between two reads of the quiet runs: a tenth of the shortest
``run.no_progress`` limit, at most this. The read looks at every run in flight (about a
third of a second for 100,000 on SQLite), which every round would be too often."""


class Checks:
    def __init__(
        self,
        store: Store,
        functions: Callable[[], Iterable[Function]],
        base_url: str,
        rules: Rules,
    ) -> None:
        self._store = store
        self._functions = functions
        self._base_url = base_url
        self._rules = rules
        self._quiet_next: float | None = None
        self._unknown: set[str] = set()

    async def decide(self, now: float, firing: Mapping[tuple[str, str], Alert]) -> list[Decision]:
        """Every rule's decisions at ``now``; ``firing``: the alerts firing, by rule and
        subject. A firing alert whose rule is off for its subject, or whose function or app
        is gone, resolves."""
        functions = {f.slug: f for f in self._functions()}
        self._warn_unknown(functions)
        apps = await self._store.list_apps()
        synced = {app.url: app.synced_at for app in apps}
        decisions: list[Decision] = []
        for function in functions.values():
            found = await self._failing(function, now, synced.get(function.app_url, 0.0))
            if found is not None:
                decisions.append(found)
        if self._rules.queue_late.enabled:
            stats = await self._store.queue_stats(now)
            decisions.append(queue_late(stats, now, self._rules.queue_late))
        decisions.extend(await self._unreachable(apps, now))
        decisions.extend(await self._no_progress(functions, firing, now))
        decisions.extend(await self._no_runs(functions, apps, firing, now))
        present = {
            FUNCTION_FAILING: set(functions),
            EVENTS_NO_RUNS: set(functions),
            APP_UNREACHABLE: {a.url for a in apps},
        }
        for rule, subject in firing:
            known = present.get(rule)
            if not self._rules.enabled(rule, subject) or (
                known is not None and subject not in known
            ):
                decisions.append(Clear(rule, subject))
        return decisions

    def _warn_unknown(self, functions: Mapping[str, Function]) -> None:
        """A function's own settings under a slug no app registered: a typo, or an app not
        synced yet. Said once per slug; the settings wait for such a function."""
        named = {slug for by_slug in self._rules.functions.values() for slug in by_slug}
        unknown = named - functions.keys() - self._unknown
        if unknown and functions:
            self._unknown |= unknown
            log.warning(
                "alerts.unknown_function",
                extra={
                    "functions": sorted(unknown),
                    "hint": "no registered function has these slugs (yet): check them with "
                    "inlet functions ls",
                },
            )

    async def _failing(self, function: Function, now: float, synced_at: float) -> Decision | None:
        rules = self._rules.failing_for(function.slug)
        if not rules.enabled:
            return None
        if rules.window is None:
            page = await self._store.runs(
                RunFilter(function_slug=function.slug, statuses=FINISHED), limit=rules.runs
            )
            return failing_function(function, page.runs, rules, self._base_url, synced_at)
        recent = RunFilter(function_slug=function.slug, created_after=now - rules.window)
        counts = await self._store.run_counts(recent)
        newest_failed = None
        if counts.get(RunStatus.FAILED):
            failed = RunFilter(
                function_slug=function.slug,
                statuses=(RunStatus.FAILED,),
                created_after=now - rules.window,
            )
            newest_failed = next(iter((await self._store.runs(failed, limit=1)).runs), None)
        return failing_in_window(function, counts, newest_failed, rules, self._base_url)

    async def _unreachable(self, apps: list[App], now: float) -> list[Decision]:
        rules = self._rules.app_unreachable
        if not rules.enabled:
            return []
        since = await self._store.app_errors_since() if any(a.error for a in apps) else {}
        found = (unreachable_app(app, since.get(app.url), now, rules) for app in apps)
        return [d for d in found if d is not None]

    async def _no_progress(
        self,
        functions: Mapping[str, Function],
        firing: Mapping[tuple[str, str], Alert],
        now: float,
    ) -> list[Decision]:
        # One read at the shortest limit; each function's own limit then picks its runs.
        limits = [self._rules.no_progress_for(slug) for slug in functions]
        shortest = min(
            (r.after for r in [self._rules.no_progress, *limits] if r.enabled), default=None
        )
        if shortest is None or (self._quiet_next is not None and now < self._quiet_next):
            return []
        self._quiet_next = now + min(QUIET_EVERY, shortest / 10)
        quiet = await self._store.quiet_runs(now - shortest, QUIET_LIMIT)
        by_function: dict[str, list[QuietRun]] = {}
        for run in quiet:
            rules = self._rules.no_progress_for(run.run.function_slug)
            if rules.enabled and run.last_at < now - rules.after:
                by_function.setdefault(run.run.function_slug, []).append(run)
        decisions: list[Decision] = []
        for slug, runs in by_function.items():
            runs.sort(key=lambda q: (q.last_at, q.run.id))
            history = await self._store.history(runs[0].run.id)
            last = history[-1] if history else None
            rules = self._rules.no_progress_for(slug)
            decisions.append(
                no_progress(slug, functions.get(slug), runs, last, now, rules, self._base_url)
            )
        if len(quiet) < QUIET_LIMIT:
            for rule, slug in firing:
                if rule == RUN_NO_PROGRESS and slug not in by_function:
                    decisions.append(Clear(RUN_NO_PROGRESS, slug))
        return decisions

    async def _no_runs(
        self,
        functions: Mapping[str, Function],
        apps: list[App],
        firing: Mapping[tuple[str, str], Alert],
        now: float,
    ) -> list[Decision]:
        windows = {self._rules.no_runs_for(slug).window for slug in functions}
        windows.add(self._rules.no_runs.window)
        tallies = {window: await self._store.skip_tally(now - window) for window in windows}
        errors = {a.url: a.error for a in apps if a.error}
        subjects = {slug for rule, slug in firing if rule == EVENTS_NO_RUNS}
        for window, tally in tallies.items():
            subjects |= {
                t.function_slug
                for t in tally
                if self._rules.no_runs_for(t.function_slug).window == window
            }
        decisions: list[Decision] = []
        for slug in sorted(subjects):
            rules = self._rules.no_runs_for(slug)
            if not rules.enabled:
                continue
            skipped = [t for t in tallies.get(rules.window, []) if t.function_slug == slug]
            page = await self._store.runs(RunFilter(function_slug=slug), limit=1)
            newest = page.runs[0].created_at if page.runs else None
            alert = firing.get((EVENTS_NO_RUNS, slug))
            function = functions.get(slug)
            error = errors.get(function.app_url) if function is not None else None
            found = no_runs(
                slug,
                function,
                skipped,
                newest,
                alert.fired_at if alert is not None else None,
                now,
                rules,
                error,
            )
            if found is not None:
                decisions.append(found)
        return decisions
