"""``inlet apps ls`` and ``inlet apps sync``, against a running server's ``/v1/apps``."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from rich.console import Console
from rich.table import Table

SYNC_TIMEOUT = 60.0


def _call(
    base: str, path: str, body: Any = None, token: str | None = None
) -> tuple[int, dict[str, Any]]:
    """The status and JSON answer of ``GET`` (or ``POST`` with ``body``) ``base + path``;
    HTTP errors are answers too, connection errors raise ``URLError``."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        base + path, data=data, headers=headers, method="GET" if body is None else "POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=SYNC_TIMEOUT) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            answer = json.loads(raw or b"{}")
        except ValueError:
            answer = {"error": raw[:300].decode(errors="replace")}
        return exc.code, answer if isinstance(answer, dict) else {"error": str(answer)}


def _unreachable(console: Console, base: str, exc: urllib.error.URLError) -> int:
    console.print(f"[red]cannot reach {base}: {exc.reason}; is inlet running? (--url)")
    return 1


def list_apps(base_url: str, token: str | None = None) -> int:
    console = Console()
    base = base_url.rstrip("/")
    try:
        status, answer = _call(base, "/v1/apps", token=token)
    except urllib.error.URLError as exc:
        return _unreachable(console, base, exc)
    if status != 200:
        console.print(f"[red]{base}/v1/apps: HTTP {status}: {answer.get('error', answer)}")
        return 1
    apps = answer.get("data") or []
    if not apps:
        console.print("no app is synced; sync one with `inlet apps sync URL`")
        return 0
    table = Table("URL", "app", "SDK", "functions", "last sync", "error")
    for app in apps:
        table.add_row(
            app["url"],
            app["app_id"] or "-",
            app["sdk"] or "-",
            str(len(app["functions"])),
            app["synced_at"] or "never",
            app["error"] or "",
            style="red" if app["error"] else None,
        )
    console.print(table)
    return 1 if any(app["error"] for app in apps) else 0


def sync_apps(base_url: str, urls: tuple[str, ...], every: bool, token: str | None = None) -> int:
    """Sync ``urls``, or with ``every`` each app the server knows; 1 if any failed."""
    console = Console()
    base = base_url.rstrip("/")
    try:
        targets = list(urls)
        if every:
            status, answer = _call(base, "/v1/apps", token=token)
            if status != 200:
                console.print(f"[red]{base}/v1/apps: HTTP {status}: {answer.get('error')}")
                return 1
            targets += [a["url"] for a in answer.get("data") or [] if a["url"] not in targets]
        if not targets:
            console.print("nothing to sync: give app URLs, or --all for every known app")
            return 1
        failed = 0
        for url in targets:
            status, answer = _call(base, "/v1/apps/sync", {"url": url}, token=token)
            app = answer.get("data") or {}
            if status == 200:
                count = len(app.get("functions") or [])
                console.print(f"{url}: synced [bold]{app.get('app_id')}[/bold], {count} functions")
            else:
                console.print(f"[red]{url}: {answer.get('error') or f'HTTP {status}'}")
                failed += 1
    except urllib.error.URLError as exc:
        return _unreachable(console, base, exc)
    return 1 if failed else 0
