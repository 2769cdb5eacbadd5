"""The one redactor of secrets in text Inlet shows: logs, errors, CLI output and API answers.

It takes any text (a URL, a libpq connection string, an exception message that quotes
one) and replaces what can only be a secret: a URL's password (``scheme://user:***@host``)
and the value of a ``password=`` (or ``token=``, ``secret=``...) parameter, in a query
string or a ``key=value`` connection string alike.
"""

from __future__ import annotations

import re

MASK = "***"

_USERINFO = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:)[^@\s]*(?P<at>@)")
_PARAMETER = re.compile(
    r"(?P<name>\b(?:password|passwd|pwd|sslpassword|secret|token|api_key|apikey|key)=)"
    r"(?:'(?P<single>[^']*)'|\"(?P<double>[^\"]*)\"|[^&\s'\"]*)",
    re.IGNORECASE,
)


def redact(text: str) -> str:
    """``text`` with every URL password and secret parameter value replaced by ``***``."""
    text = _USERINFO.sub(lambda m: f"{m['head']}{MASK}{m['at']}", text)
    return _PARAMETER.sub(_mask_parameter, text)


def _mask_parameter(match: re.Match[str]) -> str:
    quote = "'" if match["single"] is not None else '"' if match["double"] is not None else ""
    return f"{match['name']}{quote}{MASK}{quote}"
