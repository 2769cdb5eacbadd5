"""The end-of-run log scan: no key, token or database password that an acceptance test
configured appears in any log line an inlet process wrote during the whole run.

A database password found in any process's URL is looked for in every process's log, and
the test PostgreSQL servers require one (tests/pgserver.py), so the password check is never
vacuous: ``passwordless_databases`` names any PostgreSQL URL given without one."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

from .harness import ManagedProcess

TOKEN = re.compile(r"(?<![A-Za-z0-9_])inlet_[A-Za-z0-9_-]{40,}")
"""An API token as `inlet tokens create` makes them."""
KEY_PREFIX = re.compile(r"^signkey-\w+-")
MIN_SECRET = 8
"""Shorter values are too likely to occur by chance to count as a leak."""


def _flag_values(argv: list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg == flag]


def _read(path: str | None) -> list[str]:
    if not path or not Path(path).is_file():
        return []
    return Path(path).read_text().split()


def configured_secrets(process: ManagedProcess) -> set[str]:
    """The keys and passwords an inlet process was started with, in every form it could
    print them (a signing key with and without its ``signkey-<env>-`` prefix)."""
    env, argv = process.env, process.argv
    keys = [env.get("INLET_SIGNING_KEY"), env.get("INLET_SIGNING_KEY_FALLBACK")]
    keys += _flag_values(argv, "--signing-key") + _flag_values(argv, "--signing-key-fallback")
    keys += _read(env.get("INLET_SIGNING_KEY_FILE"))
    for flag in ("--signing-key-file", "--event-key-file"):
        for path in _flag_values(argv, flag):
            keys += _read(path)
    keys += _read(env.get("INLET_EVENT_KEY_FILE"))
    keys += (env.get("INLET_EVENT_KEY") or "").split() + _flag_values(argv, "--event-key")
    keys += [urlsplit(url).password for url in _database_urls(process)]
    found = set()
    for key in keys:
        if key:
            found.add(key)
            found.add(KEY_PREFIX.sub("", key))
    return {s for s in found if len(s) >= MIN_SECRET}


def _database_urls(process: ManagedProcess) -> list[str]:
    urls = [process.env.get("INLET_DATABASE_URL"), *_flag_values(process.argv, "--database-url")]
    return [url for url in urls if url and "://" in url]


def passwordless_databases(processes: Iterable[ManagedProcess]) -> list[str]:
    """The PostgreSQL URLs inlet processes were given without a password: for them the
    scan could not prove that no log shows the database password."""
    return sorted(
        {
            url
            for process in _inlet(processes)
            for url in _database_urls(process)
            if url.startswith(("postgresql://", "postgres://")) and not urlsplit(url).password
        }
    )


def _inlet(processes: Iterable[ManagedProcess]) -> list[ManagedProcess]:
    return [p for p in processes if p.name.startswith("inlet")]


def leaks(processes: Iterable[ManagedProcess], also: Iterable[str] = ()) -> list[str]:
    """Where a configured secret or any API token appears in an inlet process's log (the
    first line, the harness's own record of the command it ran, excluded).

    A database password any of ``processes`` was given, and any secret in ``also``, is
    looked for in every log, not only in the log of the process that was given it."""
    inlet = _inlet(processes)
    passwords = {urlsplit(url).password for p in inlet for url in _database_urls(p)}
    shared = {s for s in (*passwords, *also) if s and len(s) >= MIN_SECRET}
    found = []
    for process in inlet:
        secrets = configured_secrets(process) | shared
        for path in process.log_paths:
            if not path.is_file():
                continue
            text = path.read_text(errors="replace").split("\n", 1)[-1]
            found += [f"{path}: a configured secret" for s in secrets if s in text]
            found += [f"{path}: an API token" for _ in TOKEN.finditer(text)]
    return found
