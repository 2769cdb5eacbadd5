"""``inlet functions ls|pause|resume|invoke``: a running server's functions, over
``/v1/functions``."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from inlet.cli.client import Api, segment
from inlet.cli.options import echo_json, json_output, with_api
from inlet.cli.send import json_object


@click.group()
def functions() -> None:
    """List, pause, resume and invoke functions."""


@functions.command("ls")
@json_output
@with_api
def ls(api: Api, as_json: bool) -> None:
    """Each function: id, triggers, next cron fire, paused or not, app."""
    found = api.get("/v1/functions")
    if as_json:
        echo_json(found)
        return
    if not found:
        click.echo("no function is registered; sync an app with: inlet apps sync URL", err=True)
        return
    table = Table("function", "triggers", "next cron fire", "paused", "app")
    for fn in found:
        triggers = [
            (t["event"] or f"cron {t['cron']}")
            + (f" if {t['expression']}" if t["expression"] else "")
            for t in fn["triggers"]
        ]
        fires = [c["next_fires"][0] for c in fn.get("crons", []) if c.get("next_fires")]
        paused = f"since {fn['paused_at']}" if fn.get("paused") else "no"
        table.add_row(
            fn["function_id"],
            ", ".join(triggers) or "-",
            min(fires).replace("T", " ")[:19] if fires else "-",
            paused,
            fn["app_url"],
        )
    Console().print(table)


@functions.command("pause")
@click.argument("slug")
@click.option(
    "--cancel-running", is_flag=True, help="Also cancel its runs under way (else they go on)."
)
@with_api
def pause(api: Api, slug: str, cancel_running: bool) -> None:
    """Start no run of SLUG until resumed; the events it skips meanwhile are kept for
    `inlet runs replay --status Skipped`."""
    state = api.post(f"/v1/functions/{segment(slug)}/pause", {"cancel_running": cancel_running})
    click.echo(f"{slug} paused since {state['paused_at']}")
    for run_id in state["cancelled_run_ids"]:
        click.echo(f"cancelled {run_id}")


@functions.command("resume")
@click.argument("slug")
@with_api
def resume(api: Api, slug: str) -> None:
    """Let SLUG run again (the events it skipped are not run: replay them)."""
    api.post(f"/v1/functions/{segment(slug)}/resume")
    click.echo(f"{slug} resumed; replay what it skipped with: "
               f"inlet runs replay --function {slug} --status Skipped")  # fmt: skip


@functions.command("invoke")
@click.argument("slug")
@click.option("--data", default=None, help="The event's data, a JSON object.")
@with_api
def invoke(api: Api, slug: str, data: str | None) -> None:
    """Start a run of SLUG now, whatever its triggers; prints the run's id."""
    payload = json_object(data, "--data") if data is not None else {}
    done = api.post(f"/v1/functions/{segment(slug)}/invoke", {"data": payload})
    click.echo(f"event {done['event_ids'][0]}", err=True)
    for skip in done["skipped"]:
        click.echo(f"{skip['function_id']} did not run: {skip['reason']}", err=True)
    for run_id in done["run_ids"]:
        click.echo(run_id)
    if not done["run_ids"]:
        raise SystemExit(1)
