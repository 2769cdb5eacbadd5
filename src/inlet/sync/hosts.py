"""The app-host allowlist (``--app-host``): which hosts Inlet may sync and later call.

Without a list any host is allowed, as in ``inngest dev``. With one, a sync or a
registration naming another host is refused before Inlet dials it, so a registered
function cannot point the executor at an internal address nobody meant to expose.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from inlet.errors import BadRequest


class HostNotAllowed(BadRequest):
    """The app's host is not on the --app-host list."""

    code = "app_host_not_allowed"
    http_status = 403


def url_host(url: str) -> str:
    """The lower-cased host of ``url``, without port or brackets ("" when it has none)."""
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def check_hosts(urls: Iterable[str], allowed: tuple[str, ...]) -> None:
    """Raise ``HostNotAllowed`` for the first of ``urls`` whose host is not in ``allowed``.

    An empty ``allowed`` allows every host.
    """
    if not allowed:
        return
    permitted = {h.lower().strip("[]") for h in allowed}
    for url in urls:
        host = url_host(url)
        if host not in permitted:
            raise HostNotAllowed(
                f"the app host {host or url!r} is not on the allowlist "
                f"({', '.join(sorted(permitted))}); add it with --app-host {host or 'HOST'} "
                "(env: INLET_APP_HOST) or use an allowed host"
            )
