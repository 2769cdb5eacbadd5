"""Templates to HTML responses: one Jinja2 environment over ``templates/`` with
autoescaping on, and the parts every page needs (who is looking, the CSRF token, the
navigation)."""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import parse_qs

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse

NAV: Final = (
    ("runs", "Runs"),
    ("functions", "Functions"),
    ("events", "Events"),
    ("bulk", "Bulk actions"),
    ("apps", "Apps"),
)

_env = jinja2.Environment(
    loader=jinja2.PackageLoader("inlet.ui", "templates"),
    autoescape=jinja2.select_autoescape(default=True),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def html(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """The page ``template`` with ``context``, plus ``principal`` (None on the login
    page), ``nav`` and ``profile``."""
    from inlet.ui.guard import PRINCIPAL

    principal = request.scope.get("state", {}).get(PRINCIPAL)
    body = _env.get_template(template).render(
        principal=principal,
        nav=NAV,
        section=context.pop("section", ""),
        **context,
    )
    return HTMLResponse(body, status_code=status)


async def form(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body (the dashboard's forms send no
    files), first value of each field."""
    body = (await request.body()).decode("utf-8", errors="replace")
    return {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}
