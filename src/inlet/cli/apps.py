"""``inlet apps ls`` and ``inlet apps sync``, against a running server's ``/v1/apps``."""

from __future__ import annotations

import sys

import click
from rich.console import Console
from rich.table import Table

from inlet.cli.client import Api, ApiError
from inlet.cli.options import echo_json, json_output, with_api

SYNC_TIMEOUT = 60.0
"""Seconds a sync may take: the server calls the app and waits for its answer."""


@click.group()
def apps() -> None:
    """List and sync the apps of a running server."""


@apps.command("ls")
@json_output
@with_api
def ls(api: Api, as_json: bool) -> None:
    """Each app: its URL, SDK and version, functions, last sync and sync error."""
    found = api.get("/v1/apps")
    if as_json:
        echo_json(found)
        return
    if not found:
        click.echo("no app is synced; sync one with `inlet apps sync URL`", err=True)
        return
    table = Table("URL", "app", "SDK", "functions", "last sync", "error")
    for app in found:
        table.add_row(
            app["url"],
            app["app_id"] or "-",
            app["sdk"] or "-",
            str(len(app["functions"])),
            app["synced_at"] or "never",
            app["error"] or "",
            style="red" if app["error"] else None,
        )
    Console().print(table)
    if any(app["error"] for app in found):
        sys.exit(1)


@apps.command("sync")
@click.argument("app_urls", nargs=-1)
@click.option("--all", "every", is_flag=True, help="Sync every app the server knows.")
@with_api
def sync(api: Api, app_urls: tuple[str, ...], every: bool) -> None:
    """Sync apps now by their serve URLs (or --all): the server PUTs each one."""
    api = Api(api.url, api.token, timeout=SYNC_TIMEOUT)
    console = Console()
    targets = list(app_urls)
    if every:
        targets += [a["url"] for a in api.get("/v1/apps") if a["url"] not in targets]
    if not targets:
        raise click.UsageError("nothing to sync: give app URLs, or --all for every known app")
    failed = 0
    for url in targets:
        try:
            app = api.post("/v1/apps/sync", {"url": url})
        except ApiError as exc:
            console.print(f"[red]{url}: {exc.message}", highlight=False)
            failed += 1
            continue
        count = len(app.get("functions") or [])
        console.print(f"{url}: synced [bold]{app.get('app_id')}[/bold], {count} functions")
    if failed:
        sys.exit(1)
