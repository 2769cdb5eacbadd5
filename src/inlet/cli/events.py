"""``inlet events ls|show``: the events a running server received, over ``/v1/events``."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.markup import escape
from rich.syntax import Syntax
from rich.table import Table

from inlet.cli.client import Api, segment
from inlet.cli.options import echo_json, json_output, since_option, until_option, with_api
from inlet.cli.runs import STATUS_STYLE

PREVIEW = 60
"""Characters of an event's data a listing shows."""


@click.group()
def events() -> None:
    """List events and see what each one started, or why not."""


@events.command("ls")
@click.option("--name", help="Only events of this name, e.g. app/user.created.")
@since_option
@until_option
@click.option("--limit", "-n", default=20, show_default=True, type=click.IntRange(1, 1000))
@json_output
@with_api
def ls(
    api: Api, name: str | None, since: str | None, until: str | None, limit: int, as_json: bool
) -> None:
    """Events, newest first: id, name, received, data."""
    query = {"name": name, "since": since, "until": until, "limit": limit}
    found = api.get("/v1/events", **query)
    if as_json:
        echo_json(found)
        return
    if not found:
        click.echo("no event matches", err=True)
        return
    table = Table("event", "name", "received", "data")
    for event in found:
        data = json.dumps(event["data"])
        table.add_row(
            event["internal_id"],
            event["name"],
            str(event["receivedAt"] or "-").replace("T", " ")[:19],
            data if len(data) <= PREVIEW else data[: PREVIEW - 1] + "…",
        )
    Console().print(table)


@events.command("show")
@click.argument("event_id")
@json_output
@with_api
def show(api: Api, event_id: str, as_json: bool) -> None:
    """An event's payload, the runs it started, and why each other matching function did
    not run (paused, rate limited, a duplicate...)."""
    event = api.get(f"/v1/events/{segment(event_id)}")
    if as_json:
        echo_json(event)
        return
    console = Console()
    console.print(
        f"[bold]event {event['internal_id']}[/bold]  {event['name']}  "
        f"received {event['receivedAt']}",
        highlight=False,
    )
    console.print(f"id {event['id']}  ts {event['ts']}", highlight=False)
    payload = {"data": event["data"], "user": event.get("user") or {}}
    console.print(Syntax(json.dumps(payload, indent=2), "json", background_color="default"))
    inlet = event.get("inlet", {})
    table = Table("function", "run", "status / why not")
    for run in inlet.get("runs", []):
        style = STATUS_STYLE.get(run["status"], "")
        table.add_row(run["function_id"], run["run_id"], f"[{style}]{run['status']}")
    for skip in inlet.get("skipped", []):
        table.add_row(
            skip["function_id"], "-", escape(f"skipped: {skip['reason']}"), style="yellow"
        )
    for verdict in inlet.get("functions", []):
        if verdict["outcome"] == "no_record":
            table.add_row(verdict["function_id"], "-", escape(verdict["reason"]), style="dim")
    if table.row_count:
        console.print(table)
    else:
        console.print(inlet.get("note") or "no function matched this event", highlight=False)
