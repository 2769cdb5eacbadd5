"""Rendering a run's history in the terminal."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from rich.console import Console
from rich.table import Table


def _request(url: str, token: str | None, method: str = "GET") -> urllib.request.Request:
    """A request to the server's API, with the API token ``inlet start`` asks for."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return urllib.request.Request(url, method=method, headers=headers)


def _get(url: str, token: str | None) -> Any:
    with urllib.request.urlopen(_request(url, token), timeout=10) as resp:
        return json.loads(resp.read())["data"]


def show(base_url: str, run_id: str, token: str | None = None) -> int:
    console = Console()
    base = base_url.rstrip("/")
    try:
        run = _get(f"{base}/v1/runs/{run_id}", token)
        history = _get(f"{base}/v1/runs/{run_id}/history", token)
    except urllib.error.HTTPError as exc:
        console.print(f"[red]{base}: HTTP {exc.code}: {exc.read().decode(errors='replace')}")
        return 1
    except urllib.error.URLError as exc:
        console.print(f"[red]cannot reach {base}: {exc.reason}; is `inlet dev` running?")
        return 1
    inlet = run.get("inlet", {})
    console.print(
        f"[bold]run {run['run_id']}[/bold]  {run['function_id']}  "
        f"[bold]{inlet.get('status', run['status'])}[/bold]"
    )
    console.print(f"started {run['run_started_at']}  ended {run['ended_at'] or '-'}")
    table = Table("#", "step", "attempt", "outcome", "HTTP", "ms", "output / error")
    for i, a in enumerate(history, 1):
        detail = a["error"] if a["error"] else json.dumps(a["output"])
        style = "red" if a["outcome"] in ("failed", "retry") else None
        table.add_row(
            str(i),
            a["name"] or a["step_id"],
            str(a["attempt"]),
            a["outcome"],
            str(a["status_code"] or "-"),
            f"{a['duration_ms']:.1f}",
            (detail or "")[:120],
            style=style,
        )
    console.print(table)
    if run.get("output") is not None:
        console.print("output:", json.dumps(run["output"])[:2000])
    return 0


def cancel(base_url: str, run_ids: tuple[str, ...], token: str | None = None) -> int:
    console = Console()
    base = base_url.rstrip("/")
    failed = 0
    for run_id in run_ids:
        request = _request(f"{base}/v1/runs/{run_id}", token, "DELETE")
        try:
            with urllib.request.urlopen(request, timeout=10) as resp:
                run = json.loads(resp.read())["data"]
            console.print(f"{run_id}: [bold]{run['status']}[/bold]")
        except urllib.error.HTTPError as exc:
            detail = json.loads(exc.read() or b"{}").get("error", exc.reason)
            console.print(f"[red]{run_id}: {detail}")
            failed += 1
        except urllib.error.URLError as exc:
            console.print(f"[red]cannot reach {base}: {exc.reason}; is inlet running?")
            return 1
    return 1 if failed else 0


def show_event(base_url: str, event_id: str, token: str | None = None) -> int:
    console = Console()
    base = base_url.rstrip("/")
    try:
        event = _get(f"{base}/v1/events/{event_id}", token)
    except urllib.error.HTTPError as exc:
        console.print(f"[red]{base}: HTTP {exc.code}: {exc.read().decode(errors='replace')}")
        return 1
    except urllib.error.URLError as exc:
        console.print(f"[red]cannot reach {base}: {exc.reason}; is inlet running?")
        return 1
    console.print(
        f"[bold]event {event['internal_id']}[/bold]  {event['name']}  "
        f"received {event['receivedAt']}"
    )
    console.print("data:", json.dumps(event["data"])[:2000])
    inlet = event.get("inlet", {})
    table = Table("function", "run", "status / why not")
    for run in inlet.get("runs", []):
        table.add_row(run["function_id"], run["run_id"], run["status"])
    for skip in inlet.get("skipped", []):
        table.add_row(skip["function_id"], "-", skip["reason"], style="yellow")
    if table.row_count:
        console.print(table)
    else:
        console.print("no function matched this event")
    return 0
