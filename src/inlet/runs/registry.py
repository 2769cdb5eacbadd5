"""Which functions an event starts (docs/protocol.md §8.3), and what each new run carries from the
start: its flow-control values, its cancelOn listeners and its timeout timers.

Pure: a snapshot built from a function list, so a sync swaps it whole and a router that
holds the old one is never half updated."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from inlet.errors import FunctionConfigInvalid, InvalidValue
from inlet.expr import (
    Expression,
    IndexValue,
    compile_expression,
    equality_index,
    index_value,
    interpolate,
    path_value,
)
from inlet.flow import keys
from inlet.flow.batch import batch_applies
from inlet.flow.idempotency import idempotency_key
from inlet.flow.priority import priority_offset
from inlet.flow.spec import FunctionSpec
from inlet.ids import new_ulid
from inlet.model import (
    Buffer,
    Event,
    Function,
    ItemKind,
    Listener,
    ListenerKind,
    NewItem,
    NewRun,
    Rate,
    RunFlow,
    SkipRecord,
    SkipSet,
    Trigger,
)
from inlet.runs.switch import MAX_OUTCOMES, Outcome, Step, Switch, outcome_key, switch_for
from inlet.steps.waits import INVOKED

_NO_SPEC = FunctionSpec()
_NO_FLOW = RunFlow()
"""The flow of a run of a function without flow control (frozen: one for all)."""
_KNOWN_NAMES = 4096
"""Event names whose listening triggers a snapshot keeps; past that it starts again."""
_FALSE_EXPRESSION = "the trigger's expression was not true: "
"""How an event's skip record says a function's trigger expression refused it."""


def _is_bare(spec: FunctionSpec) -> bool:
    """No flow control, no cancelOn, no timeouts."""
    timeouts = (spec.start_timeout, spec.finish_timeout)
    return spec.flow == _NO_SPEC.flow and not spec.cancel and timeouts == (None, None)


def _spec(fn: Function) -> FunctionSpec:
    # Registration refuses an invalid config; one stored before a check was added runs
    # without flow control, cancelOn and timeouts rather than not at all.
    try:
        return FunctionSpec.parse(fn.config)
    except FunctionConfigInvalid:
        return _NO_SPEC


def _wildcard_prefixes(name: str) -> list[str]:
    """``app/user.created`` is matched by ``app/*`` and ``app/user.*``."""
    prefixes = []
    for i, ch in enumerate(name):
        if ch in "/.":
            prefixes.append(name[: i + 1] + "*")
    return prefixes


def _may_match(
    required: list[tuple[str, IndexValue]], wire: object, seen: dict[str, IndexValue | None]
) -> bool:
    """False when the event's value at one required path cannot equal its literal under
    CEL's equality (an int-valued float is its int; a bool next to an int is left to the
    evaluator, Python calling ``True == 1``). ``seen`` keeps the event's values by path,
    so ten triggers on ``event.data.fn`` read it once."""
    for path, literal in required:
        if path in seen:
            value = seen[path]
        else:
            value = seen[path] = index_value(path_value(wire, path))
        if value is None or value != literal:
            return False
    return True


class Registry:
    """An immutable snapshot of the registered functions, indexed by trigger."""

    def __init__(self, functions: Iterable[Function]) -> None:
        self.functions: dict[str, Function] = {}
        self._by_name: dict[str, list[tuple[Function, Expression | None]]] = {}
        self._specs: dict[str, FunctionSpec] = {}
        """Each function's config, parsed once per snapshot."""
        self._refusal: dict[str, str] = {}
        """The skip reason of an event a trigger expression refuses, by source."""
        self._required: dict[str, list[tuple[str, IndexValue]]] = {}
        """A trigger expression's ``event.<path> == <literal>`` terms (its top-level ``&&``
        chain), by source: an event whose value differs at one of them fails the
        expression, so it is refused without evaluating it (W4's ten triggers)."""
        self._bare: set[str] = set()
        """Functions with no flow control, cancelOn or timeouts: their runs' flow and
        extras are the same for every event (W4's ten, most functions)."""
        for fn in functions:
            self.functions[fn.slug] = fn
            spec = self._specs[fn.slug] = _spec(fn)
            if _is_bare(spec):
                self._bare.add(fn.slug)
            for trigger in fn.triggers:
                if trigger.event is None:
                    continue
                expr = compile_expression(trigger.expression) if trigger.expression else None
                if expr is not None and expr.source not in self._required:
                    self._required[expr.source] = equality_index(expr.source, "event") or []
                    self._refusal[expr.source] = f"{_FALSE_EXPRESSION}{expr.source}"
                self._by_name.setdefault(trigger.event, []).append((fn, expr))
        self._listening: dict[str, list[tuple[Function, Expression | None]]] = {}
        """``listening`` by event name, filled as names arrive: the snapshot never changes,
        and walking a name for its wildcard prefixes cost more than the triggers' test."""
        self._switches: dict[str, Switch | None] = {}
        """The triggers of a name in ``_listening`` by the literal most of them require
        at one path (``runs.switch``), where enough do."""

    def get(self, slug: str) -> Function | None:
        return self.functions.get(slug)

    def match(self, event: Event) -> list[Function]:
        """Functions this event starts; a function with several matching triggers once."""
        return list(self._sort(event)[0])

    def sort(self, event: Event) -> tuple[list[Function], list[SkipRecord]]:
        """Functions this event starts, and why it starts none of the others that listen
        to its name: their trigger's expression was not true for it."""
        matched, refused = self._sort(event)
        skips = [SkipRecord(event.internal_id, s, r) for s, r in refused.items()]
        return list(matched), skips

    def _sort(self, event: Event) -> Outcome:
        """``sort``, the refusals as the reason by function; the lists may be a switch's
        (``Switch.outcomes``), never to be changed."""
        if event.name == INVOKED:
            # An invoke starts exactly the function it names, whatever its triggers.
            meta = event.data.get("_inngest")
            target = meta.get("fn_id") if isinstance(meta, dict) else None
            fn = self.functions.get(target) if isinstance(target, str) else None
            return ([fn] if fn is not None else []), {}
        candidates = self._triggers(event.name)
        if not candidates:
            return [], {}
        switch = self._switches.get(event.name)
        key = None
        if switch is not None:
            wire = event.to_wire()
            raw = path_value(wire, switch.path)
            key = outcome_key(raw) if switch.decided else None
            if key is not None:
                known = switch.outcomes.get(key)
                if known is not None:  # the outcome of every event with this value
                    return known
            value = index_value(raw)
            variables: dict[str, Any] | None = {"event": wire}
            seen: dict[str, IndexValue | None] = {switch.path: value}
            steps: Iterable[Step] = switch.plan(value)
        else:
            variables, seen = None, {}
            steps = ((fn, expr, False) for fn, expr in candidates)
        matched: dict[str, Function] = {}
        refused: dict[str, str] = {}
        for fn, expr, refuse in steps:
            if fn.slug in matched:
                continue
            if refuse and expr is not None:  # its literal is not the event's value
                refused.setdefault(fn.slug, self._refusal[expr.source])
                continue
            if expr is not None:
                if variables is None:
                    variables = {"event": event.to_wire()}
                required = self._required[expr.source]
                if (required and not _may_match(required, variables["event"], seen)) or (
                    not expr.matches(variables)
                ):
                    refused.setdefault(fn.slug, self._refusal[expr.source])
                    continue
            matched[fn.slug] = fn
        for slug in matched.keys() & refused.keys():  # another trigger of it matched
            del refused[slug]
        outcome = list(matched.values()), refused
        if switch is not None and key is not None and len(switch.outcomes) < MAX_OUTCOMES:
            switch.outcomes[key] = outcome
        return outcome

    def listening(self, name: str) -> list[tuple[Function, Expression | None]]:
        """The triggers that listen to events called ``name`` (wildcards included)."""
        return list(self._triggers(name))

    def _triggers(self, name: str) -> list[tuple[Function, Expression | None]]:
        known = self._listening.get(name)
        if known is not None:
            return known
        candidates = list(self._by_name.get(name, ()))
        for prefix in _wildcard_prefixes(name):
            candidates.extend(self._by_name.get(prefix, ()))
        if len(self._listening) >= _KNOWN_NAMES:  # names are the senders' to choose
            self._listening.clear()
            self._switches.clear()
        self._listening[name] = candidates
        self._switches[name] = switch_for(candidates, self._required)
        return candidates

    def event_names(self) -> list[str]:
        """Every event name (or wildcard) some trigger listens to."""
        return sorted(self._by_name)

    def plan(self, events: Sequence[Event], now: float) -> list[NewRun]:
        """One new run per (event, matching function). The key is the event's id, so a
        repeated event (same id) starts nothing twice."""
        return self.plan_and_skips(events, now)[0]

    def plan_and_skips(
        self, events: Sequence[Event], now: float
    ) -> tuple[list[NewRun], list[SkipSet]]:
        """``plan``, and why the events start no run of the other functions listening:
        the events each function refused for each reason together."""
        runs = []
        refusals: dict[tuple[str, str], list[str]] = {}
        for event in events:
            matched, refused = self._sort(event)
            for refusal in refused.items():
                ids = refusals.get(refusal)
                if ids is None:
                    refusals[refusal] = [event.internal_id]
                else:
                    ids.append(event.internal_id)
            for fn in matched:
                run_id = new_ulid(now)
                listeners, timers = self._extras(fn, run_id, event, now)
                runs.append(
                    NewRun(
                        id=run_id,
                        function_slug=fn.slug,
                        event_ids=(event.internal_id,),
                        key=f"event:{event.id}",
                        due_at=now,
                        listeners=listeners,
                        timers=timers,
                        flow=self.flow(fn, event),
                    )
                )
        return runs, [SkipSet(s, r, tuple(ids)) for (s, r), ids in refusals.items()]

    def plan_cron(self, fn: Function, event: Event, key: str, due_at: float, now: float) -> NewRun:
        """The run of one cron fire: for ``fn`` alone (every cron event has the same name),
        keyed by the fire so that it is made once."""
        return self.plan_for(fn, (event,), key, due_at, now)

    def plan_for(
        self, fn: Function, events: Sequence[Event], key: str, due_at: float, now: float
    ) -> NewRun:
        """A run of ``fn`` alone for ``events`` (the first decides its flow keys, as for a
        batch), made once per ``key``: a cron fire, a rerun, a replay."""
        run_id = new_ulid(now)
        listeners, timers = self._extras(fn, run_id, events[0], now)
        return NewRun(
            id=run_id,
            function_slug=fn.slug,
            event_ids=tuple(e.internal_id for e in events),
            key=key,
            due_at=due_at,
            listeners=listeners,
            timers=timers,
            flow=self.flow(fn, events[0]),
        )

    def flow(self, fn: Function, event: Event) -> RunFlow:
        """The flow control of one run of ``fn`` started by ``event``, keys evaluated."""
        if fn.slug in self._bare:
            return _NO_FLOW
        cfg = self._specs.get(fn.slug, _NO_SPEC).flow
        if cfg == _NO_SPEC.flow:
            return _NO_FLOW
        wire = event.to_wire()
        slug = fn.slug
        throttle = rate = debounce = batch = None
        if cfg.throttle is not None:
            throttle = Rate(
                keys.throttle_key(cfg, slug, wire) or slug,
                cfg.throttle.limit,
                cfg.throttle.period,
                cfg.throttle.burst,
            )
        if cfg.rate_limit is not None:
            rate = Rate(
                keys.rate_limit_key(cfg, slug, wire) or slug,
                cfg.rate_limit.limit,
                cfg.rate_limit.period,
            )
        if cfg.debounce is not None:
            debounce = Buffer(
                keys.debounce_key(cfg, slug, wire) or slug,
                cfg.debounce.period,
                cfg.debounce.timeout,
            )
        if cfg.batch is not None and batch_applies(cfg, wire):
            batch = Buffer(
                keys.batch_key(cfg, slug, wire) or slug,
                timeout=cfg.batch.timeout,
                max_size=cfg.batch.max_size,
            )
        return RunFlow(
            concurrency=keys.concurrency_keys(cfg, slug, wire),
            priority=priority_offset(cfg, wire),
            throttle=throttle,
            rate_limit=rate,
            idempotency=idempotency_key(cfg, slug, wire),
            singleton=keys.singleton_key(cfg, slug, wire) if cfg.singleton else None,
            singleton_mode=cfg.singleton.mode if cfg.singleton else "skip",
            debounce=debounce,
            batch=batch,
        )

    def crons(self) -> list[tuple[Function, Trigger]]:
        return [(fn, t) for fn in self.functions.values() for t in fn.triggers if t.cron]

    def _extras(
        self, fn: Function, run_id: str, event: Event, now: float
    ) -> tuple[tuple[Listener, ...], tuple[NewItem, ...]]:
        """The run's cancelOn listeners (its trigger fixed into their conditions) and
        its start/finish timeout timers."""
        if fn.slug in self._bare:
            return (), ()
        spec = self._specs.get(fn.slug, _NO_SPEC)
        listeners = []
        for i, cancel in enumerate(spec.cancel):
            expression = None
            if cancel.condition is not None:
                try:
                    expression = interpolate(cancel.condition, {"event": event.to_wire()})
                except InvalidValue:
                    continue
            pairs = equality_index(expression) if expression else None
            listeners.append(
                Listener(
                    id=f"{run_id}:cancel:{i}",
                    run_id=run_id,
                    kind=ListenerKind.CANCEL,
                    event=cancel.event,
                    expires_at=now + cancel.timeout,
                    expression=expression,
                    index=tuple(pairs[:1]) if pairs else (),
                )
            )
        timers = []
        for which, seconds in (("start", spec.start_timeout), ("finish", spec.finish_timeout)):
            if seconds is not None:
                timers.append(
                    NewItem(
                        ItemKind.TIMER,
                        f"timeout:{which}",
                        now + seconds,
                        name=f"timeouts.{which}",
                        payload={"timeout": which, "seconds": seconds},
                    )
                )
        return tuple(listeners), tuple(timers)
