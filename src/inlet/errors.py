"""One exception tree for everything Inlet raises on purpose.

Each class carries a stable ``code``, the HTTP status an edge should answer with and
whether a caller may retry. The class docstring is the default message; instances are
raised with a message that names the bad value and the fix.

A failed call to an app and a failed sync are not raised: they are values the caller acts
on (a ``Reply`` whose ``error`` the step machine turns into a retry, and the reason a sync
failed, recorded on the app and shown by ``GET /dev``).
"""

from __future__ import annotations


class InletError(Exception):
    """Inlet failed."""

    code = "internal_error"
    http_status = 500
    retriable = False

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (type(self).__doc__ or self.code).strip())

    @property
    def message(self) -> str:
        return str(self.args[0])


class ConfigError(InletError):
    """The configuration is invalid."""

    code = "config_invalid"


class InvalidValue(InletError):
    """A value that cannot be used (a duration, a cron expression, an id, a query).

    Raised by pure code, which knows nothing of HTTP; an edge that received the value
    answers 400 with the message, which names the value and what was expected."""

    code = "invalid_value"
    http_status = 400


class BadRequest(InletError):
    """The request is invalid."""

    code = "bad_request"
    http_status = 400


class EventInvalid(BadRequest):
    """An event in the request is invalid."""

    code = "event_invalid"


class EventTooLarge(EventInvalid):
    """An event is larger than the size limit."""

    code = "event_too_large"
    http_status = 413


class FunctionConfigInvalid(BadRequest):
    """A function's configuration is invalid."""

    code = "function_config_invalid"

    def __init__(self, message: str | None = None, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        """The path of the offending field in the function's config (``batchEvents.timeout``,
        ``cancel[1].if``), when one field is to blame."""


class Unauthorized(InletError):
    """The request is not authenticated."""

    code = "unauthorized"
    http_status = 401


class Forbidden(InletError):
    """The caller is known but may not do this (a viewer token, a remote register)."""

    code = "forbidden"
    http_status = 403


class NotFound(InletError):
    """Not found."""

    code = "not_found"
    http_status = 404


class Conflict(InletError):
    """The request conflicts with the current state."""

    code = "conflict"
    http_status = 409


class StaleDispatch(Conflict):
    """The call this request speaks for is no longer the current one."""

    code = "stale_dispatch"


class PayloadTooLarge(InletError):
    """The request body is over a size limit."""

    code = "payload_too_large"
    http_status = 413


class StoreError(InletError):
    """The store failed."""

    code = "store_error"
    retriable = True


class SchemaMismatch(StoreError):
    """The database schema is not the one this version of Inlet expects."""

    code = "schema_mismatch"
    retriable = False


class DatabaseLocked(StoreError):
    """Another Inlet process holds this SQLite database."""

    code = "database_locked"
    retriable = False
