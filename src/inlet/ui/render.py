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
    ("alerts", "Alerts"),
)
FIRING: Final = "inlet_firing"
"""The key of the number of firing alerts in ``scope["state"]`` (``ui/alerts.py``)."""
COUNTED: Final = 100
"""Firing alerts the navigation counts; more show as ``99+``."""

_env = jinja2.Environment(
    loader=jinja2.PackageLoader("inlet.ui", "templates"),
    autoescape=jinja2.select_autoescape(default=True),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def html(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """The page ``template`` with ``context``, plus ``principal`` (None on the login
    page), ``nav``, ``section`` and ``firing`` (the navigation's count of firing
    alerts, "" when none)."""
    from inlet.ui.guard import PRINCIPAL

    state = request.scope.get("state", {})
    principal = state.get(PRINCIPAL)
    body = _env.get_template(template).render(
        principal=principal,
        nav=NAV,
        firing=firing_label(state.get(FIRING, 0)),
        section=context.pop("section", ""),
        **context,
    )
    return HTMLResponse(body, status_code=status)


def firing_label(count: int) -> str:
    if count <= 0:
        return ""
    return f"{COUNTED - 1}+" if count >= COUNTED else str(count)


async def form(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body (the dashboard's forms send no
    files), first value of each field."""
    body = (await request.body()).decode("utf-8", errors="replace")
    return {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}
