"""``inlet runs ls|show|cancel|rerun|replay``: runs of a running server, over ``/v1/runs``
and ``/v1/bulk``."""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from inlet.cli.client import Api, ApiError, segment
from inlet.cli.options import echo_json, json_output, since_option, until_option, with_api

FOLLOW_INTERVAL = 0.5
"""Seconds between two looks at a followed run or a bulk operation."""
ENDED = ("Completed", "Failed", "Cancelled")
STATUS_STYLE = {
    "Completed": "green",
    "Failed": "red",
    "Cancelled": "yellow",
    "Running": "cyan",
    "Queued": "blue",
    "Skipped": "magenta",
}
RUN_STATUSES = ("Queued", "Running", "Completed", "Failed", "Cancelled")


@click.group()
def runs() -> None:
    """List, follow, cancel, rerun and replay runs on a running server."""


@runs.command("ls")
@click.option("--function", "-f", help="Only this function's runs (its id, e.g. myapp-charge).")
@click.option(
    "--status",
    "-s",
    multiple=True,
    type=click.Choice(RUN_STATUSES, case_sensitive=False),
    help="Only runs in this status (repeatable).",
)
@since_option
@until_option
@click.option("--search", "-q", help="Only runs whose event, output or error holds this text.")
@click.option("--limit", "-n", default=20, show_default=True, type=click.IntRange(1, 500))
@click.option("--all", "every", is_flag=True, help="Every matching run, page after page.")
@click.option(
    "--expr",
    help="Only runs for which this expression holds, over event, output and error, e.g. "
    "'event.data.model == \"ada\" && output.vectors != 384'.",
)
@click.option(
    "--stuck",
    is_flag=True,
    help="Only runs that can no longer move (no queued work, no wait left), oldest first: "
    "what the reaper revives or cancels.",
)
@json_output
@with_api
def ls(
    api: Api,
    function: str | None,
    status: tuple[str, ...],
    since: str | None,
    until: str | None,
    search: str | None,
    limit: int,
    every: bool,
    expr: str | None,
    stuck: bool,
    as_json: bool,
) -> None:
    """Runs, newest first: id, function, status, started, duration, steps, error."""
    query = {
        "function": function,
        "status": [s.capitalize() for s in status],
        "since": since,
        "until": until,
        "q": search,
        "expr": expr,
        "stuck": "true" if stuck else None,
        "limit": limit,
    }
    found: list[dict[str, Any]] = []
    while True:
        page = api.call("GET", "/v1/runs", params=query)
        found += page.data
        cursor = page.metadata.get("next_cursor")
        if not every or not cursor:
            break
        query["cursor"] = cursor
    if as_json:
        echo_json(found)
        return
    if not found:
        click.echo("no run matches", err=True)
        return
    table = Table("run", "function", "status", "started", "duration", "steps", "error")
    now = time.time()
    for run in found:
        state = status_of(run)
        table.add_row(
            run["run_id"],
            run["function_id"],
            f"[{STATUS_STYLE.get(state, '')}]{state}",
            _short_time(run["run_started_at"]),
            duration(run, now),
            str(run.get("inlet", {}).get("steps", "")),
            first_line(run.get("inlet", {}).get("error")),
        )
    Console().print(table)
    if not every and cursor:
        click.echo(
            f"more runs match: --limit {limit} shows {limit}; --all shows every one", err=True
        )


def status_of(run: dict[str, Any]) -> str:
    """``Queued`` apart from ``Running``, which REST API v1 spells alike."""
    inlet = str(run.get("inlet", {}).get("status") or "")
    return inlet.capitalize() if inlet else str(run["status"])


def first_line(error: Any, width: int = 60) -> str:
    """An error's first line: ``name: message`` of an SDK's error object, else its text."""
    if isinstance(error, dict):
        message = error.get("message") or error.get("error") or json.dumps(error)
        error = f"{error['name']}: {message}" if error.get("name") else message
    text = str(error or "").strip()
    line = text.splitlines()[0] if text else ""
    return line if len(line) <= width else line[: width - 1] + "…"


def duration(run: dict[str, Any], now: float) -> str:
    started = _epoch(run.get("run_started_at"))
    if started is None:
        return "-"
    ended = _epoch(run.get("ended_at"))
    seconds = (ended if ended is not None else now) - started
    shown = f"{seconds * 1000:.0f}ms" if seconds < 1 else _seconds(seconds)
    return shown if ended is not None else f"{shown}…"


def _seconds(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    return f"{minutes // 60}h{minutes % 60:02d}m"


def _epoch(iso: Any) -> float | None:
    if not iso:
        return None
    return datetime.fromisoformat(str(iso).replace("Z", "+00:00")).timestamp()


def _short_time(iso: Any) -> str:
    return str(iso).replace("T", " ")[:19] if iso else "-"


@runs.command("show")
@click.argument("run_id")
@click.option(
    "--follow",
    "-F",
    is_flag=True,
    help="Print attempts as they happen until the run ends; "
    "exit 0 if it completed, 1 if it failed or was cancelled.",
)
@json_output
@with_api
def show(api: Api, run_id: str, follow: bool, as_json: bool) -> None:
    """A run and each attempt of its steps (with --follow, live)."""
    path = f"/v1/runs/{segment(run_id)}"
    run = api.get(path)
    if follow:
        run = _follow(api, run, quiet=as_json)
    history = api.get(f"{path}/history")
    if as_json:
        echo_json({"run": run, "history": history})
    elif not follow:
        console = Console()
        _header(console, run)
        table = Table("#", "step", "attempt", "outcome", "HTTP", "ms", "output / error")
        for i, attempt in enumerate(history, 1):
            table.add_row(*_attempt_cells(i, attempt), style=_attempt_style(attempt))
        console.print(table)
        _footer(console, run)
    if follow and status_of(run) != "Completed":
        sys.exit(1)


def _follow(api: Api, run: dict[str, Any], quiet: bool) -> dict[str, Any]:
    """Poll the run until it ends, printing each new attempt; the ended run."""
    console = Console()
    path = f"/v1/runs/{segment(run['run_id'])}"
    if not quiet:
        _header(console, run)
    seen = 0
    while True:
        history = api.get(f"{path}/history")
        for i, attempt in enumerate(history[seen:], seen + 1):
            if not quiet:
                cells = _attempt_cells(i, attempt)
                line = f"#{cells[0]}  {cells[1]}  attempt {cells[2]}  {cells[3]}  {cells[5]}ms"
                console.print(line + (f"  {cells[6]}" if cells[6] else ""),
                              style=_attempt_style(attempt), highlight=False)  # fmt: skip
        seen = max(seen, len(history))
        if status_of(run) in ENDED:
            break
        time.sleep(FOLLOW_INTERVAL)
        run = api.get(path)
    if not quiet:
        _footer(console, run)
    return run


def _header(console: Console, run: dict[str, Any]) -> None:
    state = status_of(run)
    console.print(
        f"[bold]run {run['run_id']}[/bold]  {run['function_id']}  "
        f"[bold {STATUS_STYLE.get(state, '')}]{state}[/]",
        highlight=False,
    )
    console.print(f"started {run['run_started_at']}  ended {run['ended_at'] or '-'}")


def _footer(console: Console, run: dict[str, Any]) -> None:
    state = status_of(run)
    if run.get("ended_at"):
        console.print(f"ended [bold {STATUS_STYLE.get(state, '')}]{state}[/] at {run['ended_at']}")
    if error := run.get("inlet", {}).get("error"):
        console.print(f"[red]error: {first_line(error, 200)}")
    if run.get("output") is not None:
        console.print("output:", json.dumps(run["output"])[:2000], highlight=False)


def _attempt_cells(i: int, a: dict[str, Any]) -> list[str]:
    detail = a["error"] if a["error"] else json.dumps(a["output"])
    return [
        str(i),
        a["name"] or a["step_id"] or "-",
        str(a["attempt"]),
        a["outcome"],
        str(a["status_code"] or "-"),
        f"{a['duration_ms']:.1f}",
        first_line(detail, 120),
    ]


def _attempt_style(a: dict[str, Any]) -> str | None:
    return "red" if a["outcome"] in ("failed", "retry") else None


@runs.command("cancel")
@click.argument("run_ids", nargs=-1)
@click.option("--function", "-f", help="Bulk: cancel this function's runs (with --status).")
@click.option(
    "--status",
    "-s",
    multiple=True,
    type=click.Choice(("Queued", "Running"), case_sensitive=False),
    help="Bulk: runs in this status (repeatable) [default: Queued and Running].",
)
@since_option
@until_option
@click.option("--yes", "-y", is_flag=True, help="Bulk: do not ask for confirmation.")
@with_api
def cancel(
    api: Api,
    run_ids: tuple[str, ...],
    function: str | None,
    status: tuple[str, ...],
    since: str | None,
    until: str | None,
    yes: bool,
) -> None:
    """Cancel runs by id, or in bulk with --function: they make no further calls and emit
    inngest/function.cancelled.

    \b
      inlet runs cancel 01J...
      inlet runs cancel --function myapp-charge --since 1h --yes
    """
    if run_ids and function:
        raise click.UsageError("give RUN_IDS or --function, not both")
    if function:
        statuses = [s.capitalize() for s in status] or ["Queued", "Running"]
        _bulk(api, "cancel", function, statuses, since, until, "", yes)
        return
    if not run_ids:
        raise click.UsageError("give the RUN_IDS to cancel, or --function F for a bulk cancel")
    failed = 0
    for run_id in run_ids:
        try:
            run = api.delete(f"/v1/runs/{segment(run_id)}")
        except click.ClickException as exc:
            click.echo(f"{run_id}: {exc.message}", err=True)
            failed += 1
            continue
        click.echo(f"{run_id}: {status_of(run)}")
    if failed:
        sys.exit(1)


@runs.command("rerun")
@click.argument("run_id")
@click.option("--from-step", help="Keep the outputs of the steps before this one (id or name).")
@with_api
def rerun(api: Api, run_id: str, from_step: str | None) -> None:
    """Start a new run with the same event; prints the new run's id."""
    body = {"from_step": from_step} if from_step else {}
    new = api.post(f"/v1/runs/{segment(run_id)}/rerun", body)
    click.echo(f"rerun of {run_id}" + (f" from step {from_step!r}" if from_step else ""), err=True)
    click.echo(new["run_id"])


@runs.command("replay")
@click.option("--function", "-f", required=True, help="The function's id, e.g. myapp-charge.")
@click.option(
    "--status",
    "-s",
    multiple=True,
    required=True,
    type=click.Choice(("Failed", "Cancelled", "Completed", "Skipped"), case_sensitive=False),
    help="Runs in this status (repeatable); Skipped: the events skipped while it was paused.",
)
@since_option
@until_option
@click.option("--name", default="", help="A label for the operation.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@with_api
def replay(
    api: Api,
    function: str,
    status: tuple[str, ...],
    since: str | None,
    until: str | None,
    name: str,
    yes: bool,
) -> None:
    """Run again, as new runs, a function's runs in the given statuses and time range.

    Shows how many first and asks; then a progress bar until it is done (Ctrl-C cancels
    the operation; what it did stays done).

    \b
      inlet runs replay --function myapp-charge --status Failed --since 2h
    """
    _bulk(api, "replay", function, [s.capitalize() for s in status], since, until, name, yes)


def _bulk(
    api: Api,
    kind: str,
    function: str,
    statuses: list[str],
    since: str | None,
    until: str | None,
    name: str,
    yes: bool,
) -> None:
    body = {
        "kind": kind,
        "function_id": function,
        "statuses": statuses,
        "created_after": since,
        "created_before": until,
        "name": name,
    }
    preview = api.post("/v1/bulk", {**body, "dry_run": True})
    what = " or ".join(statuses)
    window = (f" created since {since}" if since else "") + (f" before {until}" if until else "")
    total = preview["total"]
    if not total:
        click.echo(f"no {what} runs of {function}{window}: nothing to {kind}", err=True)
        return
    prompt = f"{kind.capitalize()} {total} {what} runs of {function}{window}?"
    if yes:
        click.echo(prompt.rstrip("?"), err=True)
    elif not click.confirm(prompt, default=False, err=True):
        click.echo("nothing done", err=True)
        sys.exit(1)
    op = api.post("/v1/bulk", body)
    click.echo(f"bulk {kind} {op['id']} started", err=True)
    op = _progress(api, op)
    verb = "replayed" if kind == "replay" else "cancelled"
    click.echo(f"{op['state']}: {verb} {op['changed']} of {op['total']} ({op['done']} looked at)")
    if op.get("error"):
        click.echo(f"error: {op['error']}", err=True)
    if op["state"] != "done":
        sys.exit(1)


def _progress(api: Api, op: dict[str, Any]) -> dict[str, Any]:
    """Poll ``GET /v1/bulk/{id}`` behind a progress bar until the operation ends; Ctrl-C
    cancels it."""
    path = f"/v1/bulk/{segment(op['id'])}"
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=Console(stderr=True), transient=False) as bar:
        task = bar.add_task(op["kind"], total=op["total"] or 1)
        try:
            while op["state"] == "running":
                bar.update(task, completed=op["done"], total=op["total"] or 1)
                time.sleep(FOLLOW_INTERVAL)
                op = api.get(path)
        except KeyboardInterrupt:
            bar.stop()
            click.echo(f"interrupted: cancelling bulk {op['kind']} {op['id']}", err=True)
            try:
                op = api.post(f"{path}/cancel")
            except ApiError as exc:
                if exc.status != 409:  # 409: it ended meanwhile, as the next read shows
                    raise
                op = api.get(path)
        bar.update(task, completed=op["done"], total=op["total"] or 1)
    return op
