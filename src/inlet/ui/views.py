"""What a page shows, computed from the read model's values: pure, no I/O, the time
passed in. Templates only lay these out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from inlet.model import STEP_DISCOVERY, Attempt, Event, Run, RunState, RunStatus, StoredMemo
from inlet.store.operations import BulkOp
from inlet.store.queries import Bucket, Wait

MAX_SHOWN_JSON = 20_000
"""Characters of one JSON value a page shows before cutting it."""
CALL_OUTCOMES = frozenset(
    {"completed", "step", "step_failed", "planned", "waiting", "retry", "failed", "noop"}
)
"""History rows that were a call to the app (the others are timers, skips, cancels)."""
FAILED_OUTCOMES = frozenset({"retry", "failed", "step_failed"})


def when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def local_input(ts: float | None) -> str:
    """``ts`` as an ``<input type="datetime-local">`` value, in UTC."""
    if ts is None:
        return ""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M")


def parse_local(text: str) -> float | None:
    """A ``datetime-local`` value (read as UTC, as the pages label it); None when empty or
    not a date."""
    try:
        return datetime.fromisoformat(text.strip()).replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


def until(ts: float | None, now: float) -> str:
    if ts is None:
        return "-"
    if ts < now:
        return "due " + ago(ts, now)
    return "in " + duration(ts - now)


def ago(ts: float | None, now: float) -> str:
    if ts is None:
        return "-"
    return duration(max(0.0, now - ts)) + " ago"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min"
    return f"{hours // 24} d {hours % 24} h"


def pretty(value: Any) -> str:
    text = orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode()
    if len(text) > MAX_SHOWN_JSON:
        return text[:MAX_SHOWN_JSON] + f"\n… ({len(text) - MAX_SHOWN_JSON} more characters)"
    return text


def status_name(status: RunStatus) -> str:
    return status.value.capitalize()


@dataclass(frozen=True, slots=True)
class Failure:
    """What failed, where, with what error."""

    step: str
    name: str
    message: str
    stack: str


def run_failure(run: Run, memos: Sequence[StoredMemo], attempts: Sequence[Attempt]) -> Failure:
    """The error of a failed run and the step it came from: the last step that recorded an
    error, else the last call that failed, else the function itself."""
    error = run.error or {}
    name = str(error.get("name") or "Error")
    message = str(error.get("message") or error.get("error") or "the run failed")
    stack = error.get("stack")
    step = ""
    for memo in reversed(memos):
        memo_error = _memo_error(memo.value)
        if memo_error is not None:
            step = memo.name or memo.step_id
            if not stack and isinstance(memo_error.get("stack"), str):
                stack = memo_error["stack"]
            break
    if not step:
        failed = [a for a in attempts if a.error]
        if failed and failed[-1].name and failed[-1].step_id != STEP_DISCOVERY:
            step = failed[-1].name
    return Failure(step or "the function body", name, message, str(stack or ""))


def _memo_error(value: Any) -> dict[str, Any] | None:
    if isinstance(value, dict) and set(value) == {"error"} and isinstance(value["error"], dict):
        return value["error"]
    return None


def first_line(run: Run) -> str:
    if run.error is None:
        return ""
    text = run.error.get("message") or run.error.get("error") or ""
    name = run.error.get("name")
    line = str(text).strip().splitlines()[0] if str(text).strip() else ""
    return f"{name}: {line}" if name and line and not line.startswith(str(name)) else line


def trigger(events: Sequence[Event]) -> str:
    if not events:
        return "-"
    name = events[0].name
    return f"{name} (+{len(events) - 1})" if len(events) > 1 else name


@dataclass(frozen=True, slots=True)
class RunRow:
    id: str
    function: str
    status: str
    trigger: str
    created: str
    created_ago: str
    duration: str
    steps: int
    attempts: int
    retries: int
    error: str


def run_row(
    run: Run,
    state: RunState | None,
    attempts: Sequence[Attempt] | None,
    now: float,
    count: int | None = None,
) -> RunRow:
    """``count``: the run's history rows, when its ``attempts`` were not read (a list)."""
    calls = [a for a in attempts or () if a.outcome in CALL_OUTCOMES]
    began = run.started_at or run.created_at
    ended = run.ended_at if run.ended_at is not None else (now if run.started_at else None)
    return RunRow(
        id=run.id,
        function=run.function_slug,
        status=status_name(run.status),
        trigger=trigger(state.events) if state else "-",
        created=when(run.created_at),
        created_ago=ago(run.created_at, now),
        duration=duration(ended - began if ended is not None else None),
        steps=run.step_count,
        attempts=len(calls) if count is None else count,
        retries=sum(1 for a in calls if a.outcome == "retry"),
        error=first_line(run),
    )


@dataclass(frozen=True, slots=True)
class Bar:
    """One attempt in the waterfall, in percent of the run's span: a wait (since the run
    was created or the previous attempt ended) and the call itself."""

    label: str
    attempt: int
    outcome: str
    wait_left: float
    wait_width: float
    left: float
    width: float
    waited: str
    took: str
    error: str
    failed: bool


def waterfall(run: Run, attempts: Sequence[Attempt], now: float) -> list[Bar]:
    if not attempts:
        return []
    start = run.created_at
    end = max(run.ended_at or now, *(a.ended_at for a in attempts))
    span = max(end - start, 1e-6)

    def pct(t: float) -> float:
        return round(max(0.0, min(100.0, (t - start) / span * 100)), 3)

    bars = []
    previous = start
    for a in attempts:
        # A call waited in the queue and a timer for its sleep or deadline; a skip or a
        # cancel is a point in time.
        waited = a.outcome in CALL_OUTCOMES or a.outcome == "timer"
        wait_from = min(previous, a.started_at) if waited else a.started_at
        left = pct(a.started_at)
        bars.append(
            Bar(
                label=step_label(a),
                attempt=a.attempt + 1,
                outcome=a.outcome or "-",
                wait_left=pct(wait_from),
                wait_width=round(left - pct(wait_from), 3),
                left=left,
                width=max(round(pct(a.ended_at) - left, 3), 0.4),
                waited=duration(a.started_at - wait_from),
                took=duration(a.ended_at - a.started_at),
                error=(a.error or "").strip().splitlines()[0] if a.error else "",
                failed=a.outcome in FAILED_OUTCOMES or (bool(a.error) and a.outcome != "cancelled"),
            )
        )
        previous = max(previous, a.ended_at)
    return bars


def step_label(attempt: Attempt) -> str:
    if attempt.name:
        return attempt.name
    if attempt.step_id == STEP_DISCOVERY:
        return "run the function"
    return attempt.step_id[:12]


@dataclass(frozen=True, slots=True)
class StepView:
    id: str
    name: str
    op: str
    at: str
    output: str
    error: Failure | None


def steps(memos: Sequence[StoredMemo]) -> list[StepView]:
    shown = []
    for memo in memos:
        memo_error = _memo_error(memo.value)
        error = None
        value = memo.value
        if memo_error is not None:
            error = Failure(
                memo.name or memo.step_id,
                str(memo_error.get("name") or "Error"),
                str(memo_error.get("message") or ""),
                str(memo_error.get("stack") or ""),
            )
        elif isinstance(value, dict) and set(value) == {"data"}:
            value = value["data"]
        shown.append(
            StepView(
                id=memo.step_id,
                name=memo.name or memo.step_id[:12],
                op=memo.op or "step",
                at=when(memo.recorded_at),
                output="" if error else pretty(value),
                error=error,
            )
        )
    return shown


@dataclass(frozen=True, slots=True)
class WaitView:
    kind: str
    name: str
    detail: str
    deadline: str
    left: str


WAIT_KINDS = {
    "sleep": "Sleep",
    "wait": "Wait for event",
    "invoke": "Invoke",
    "cancel_on": "Cancel on event",
    "timeout": "Timeout",
}


def wait_view(wait: Wait, now: float) -> WaitView:
    detail = wait.event or ""
    if wait.expression:
        detail = f"{detail} if {wait.expression}".strip()
    return WaitView(
        kind=WAIT_KINDS.get(wait.kind, wait.kind),
        name=wait.name or wait.step_id[:12],
        detail=detail,
        deadline=when(wait.until),
        left=until(wait.until, now),
    )


def fire(ts: float | None, now: float) -> str:
    """A cron's next fire: when, and how soon."""
    if ts is None:
        return "-"
    return f"{when(ts)} ({until(ts, now)})"


def parse_iso(text: str) -> float | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def empty_bucket(start: float) -> Bucket:
    return Bucket(start)


@dataclass(frozen=True, slots=True)
class BulkView:
    op: BulkOp
    what: str
    range: str
    percent: int
    created_ago: str


def bulk_view(op: BulkOp, now: float) -> BulkView:
    """An operation's progress: ``done`` of ``total`` looked at, as a percentage (a
    finished one is at 100 whatever its count said)."""
    if op.state == "done":
        percent = 100
    else:
        percent = min(100, round(op.done / op.total * 100)) if op.total else 0
    begin = when(op.created_after) if op.created_after is not None else "the first run"
    return BulkView(
        op=op,
        what=f"{op.kind.capitalize()} {_selected(op.statuses)} of {op.function_slug}",
        range=f"from {begin} to {when(op.created_before)}",
        percent=percent,
        created_ago=ago(op.created_at, now),
    )


def _selected(statuses: Sequence[str]) -> str:
    runs = [s for s in statuses if s != "Skipped"]
    found = [f"{', '.join(runs)} runs"] if runs else []
    if "Skipped" in statuses:
        found.append("skipped events")
    return " and ".join(found)
