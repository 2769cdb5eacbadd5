"""The end-of-run log scan: no key, token or database password that an acceptance test
configured appears in any log line an inlet process wrote during the whole run."""

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
    for url in [env.get("INLET_DATABASE_URL"), *_flag_values(argv, "--database-url")]:
        password = urlsplit(url).password if url and "://" in url else None
        keys.append(password)
    found = set()
    for key in keys:
        if key:
            found.add(key)
            found.add(KEY_PREFIX.sub("", key))
    return {s for s in found if len(s) >= MIN_SECRET}


def leaks(processes: Iterable[ManagedProcess]) -> list[str]:
    """Where a configured secret or any API token appears in an inlet process's log (the
    first line, the harness's own record of the command it ran, excluded)."""
    found = []
    for process in processes:
        if not process.name.startswith("inlet"):
            continue
        secrets = configured_secrets(process)
        for path in process.log_paths:
            if not path.is_file():
                continue
            text = path.read_text(errors="replace").split("\n", 1)[-1]
            found += [f"{path}: a configured secret" for s in secrets if s in text]
            found += [f"{path}: an API token" for _ in TOKEN.finditer(text)]
    return found
