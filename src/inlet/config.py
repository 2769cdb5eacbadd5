"""Settings, built once at the edge (the CLI or a test) and passed down."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from inlet.errors import ConfigError
from inlet.redact import redact

KiB = 1024
MiB = 1024 * KiB

DEFAULT_PORT = 8288
DEFAULT_DATABASE_URL = "sqlite:///.inlet/inlet.db"
DEFAULT_REQUEST_HEADER_TIMEOUT = 10.0
DEFAULT_RETENTION = 7 * 24 * 60 * 60.0
"""A week: finished runs older than this go, with their history and events."""


@dataclass(frozen=True, slots=True)
class DatabaseURL:
    scheme: Literal["sqlite", "memory", "postgresql"]
    path: str
    raw: str

    @property
    def safe(self) -> str:
        """The URL without a password, for logs and messages."""
        return redact(self.raw)

    @classmethod
    def parse(cls, url: str) -> DatabaseURL:
        if url.startswith("sqlite:///"):
            path = url.removeprefix("sqlite:///")
            if not path:
                raise ConfigError(f"database URL {url!r} has no file path; expected sqlite:///PATH")
            return cls("sqlite", path, url)
        if url in ("memory://", "memory:"):
            return cls("memory", "", url)
        if url.startswith(("postgresql://", "postgres://")):
            return cls("postgresql", url, url)
        raise ConfigError(
            f"INLET_DATABASE_URL={redact(url)!r} has an unsupported scheme; expected "
            "sqlite:///PATH, postgresql://... or memory:// (tests only)"
        )


@dataclass(frozen=True, slots=True)
class Settings:
    """Every knob of a server process. Defaults are those of ``inlet dev``."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    database_url: str = DEFAULT_DATABASE_URL
    profile: Literal["dev", "start"] = "dev"
    sdk_urls: tuple[str, ...] = ()
    discovery: bool = True
    poll_interval: float = 5.0
    """Seconds between re-syncs of apps in error, and between discovery scans."""
    retry_interval: float | None = None
    """A fixed retry delay instead of the backoff table (tests and local work)."""
    # Keys stay out of repr(), so a logged or printed Settings shows none of them.
    signing_key: str | None = field(default=None, repr=False)
    """Signs every call to an app; accepted on the SDKs' requests to this server."""
    signing_key_fallback: str | None = field(default=None, repr=False)
    """The key being rotated out: still accepted from SDKs, never used to sign."""
    event_keys: tuple[str, ...] = field(default=(), repr=False)
    allow_remote_register: bool = False
    """inlet dev: take POST /fn/register from other machines too (loopback only otherwise)."""
    app_hosts: tuple[str, ...] = ()
    """Hosts apps may be synced or registered from; empty allows any (``--app-host``)."""

    worker_concurrency: int = 128
    """Call requests in flight at once, per process."""
    call_timeout: float = 2 * 60 * 60.0
    """Longest wait for one call request (Inngest's MaxFunctionTimeout is 2 h)."""
    lease_seconds: float = 30.0
    use_api_threshold: int = 4 * MiB
    """Above this many bytes of events+steps, the call request tells the SDK to fetch them."""
    max_event_bytes: int = 512 * KiB
    max_events_per_request: int = 5000
    max_step_output_bytes: int = 4 * MiB
    max_state_bytes: int = 32 * MiB
    max_steps_per_run: int = 1000
    max_response_bytes: int = 8 * MiB
    max_request_bytes: int = 16 * MiB
    """The largest request body any route reads (413 above it, before parsing)."""
    request_body_timeout: float = 30.0
    """Seconds a request body may stall between two chunks before it is answered 408."""
    request_header_timeout: float = DEFAULT_REQUEST_HEADER_TIMEOUT
    """Seconds a connection has to send a request's line and headers before it is closed."""
    event_dedupe_seconds: float = 24 * 60 * 60.0
    stuck_after: float = 300.0
    """Seconds a run must have existed before the reaper treats it as stuck (no queued
    work and no wait left)."""
    bulk_pace: float = 0.0
    """Seconds a bulk operation waits between two pages of 100 runs (0: none), to spread a
    large replay over time."""
    retention: float = DEFAULT_RETENTION
    """Seconds a finished run, its history and its events are kept (0: for ever)."""
    retention_for: tuple[tuple[str, float], ...] = ()
    """``(function slug, seconds)``: a function's own retention, instead of the global one."""
    alert_webhooks: tuple[str, ...] = ()
    """Where alerts are delivered (``inlet.alerts``): a URL on hooks.slack.com or prefixed
    ``slack+`` gets Slack's incoming-webhook format, any other the generic JSON body."""
    alert_rules: str | None = None
    """A TOML file that tunes or turns off the alert rules (``inlet.alerts.rulebook``);
    read and checked when the server is built (None: the defaults)."""
    alert_interval: float | None = None
    """Seconds between two evaluations of the alert rules (None: the rules file's
    ``interval``, or 10 s)."""

    @property
    def signing_keys(self) -> tuple[str, ...]:
        """Every key an SDK request or an app's response may be signed with, primary first."""
        return tuple(k for k in (self.signing_key, self.signing_key_fallback) if k)

    @property
    def database(self) -> DatabaseURL:
        return DatabaseURL.parse(self.database_url)

    @property
    def server_kind(self) -> str:
        return "dev" if self.profile == "dev" else "cloud"

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def validate(self) -> Settings:
        """Fail at start-up, not on first use."""
        db = self.database
        if db.scheme == "sqlite":
            parent = Path(db.path).expanduser().resolve().parent
            if parent.exists() and not parent.is_dir():
                raise ConfigError(f"database path {db.path!r}: {parent} is not a directory")
        if not 0 < self.port < 65536:
            raise ConfigError(f"port {self.port} is out of range; expected 1-65535")
        if not self.request_header_timeout > 0:
            raise ConfigError(
                f"request header timeout {self.request_header_timeout} is not positive; "
                "expected seconds > 0, e.g. 10 (--request-header-timeout, "
                "INLET_REQUEST_HEADER_TIMEOUT)"
            )
        for slug, seconds in (("", self.retention), *self.retention_for):
            if seconds < 0 or (slug != slug.strip()):
                raise ConfigError(
                    f"retention {slug + '=' if slug else ''}{seconds} is not valid; expected "
                    "a duration >= 0 such as 7d, 12h or 0 for ever (--retention, "
                    "--retention-for FUNCTION=DURATION)"
                )
        if self.retry_interval is not None and self.retry_interval < 0:
            raise ConfigError(
                f"retry interval {self.retry_interval} is negative; expected seconds >= 0"
            )
        for url in self.sdk_urls:
            if not url.startswith(("http://", "https://")):
                raise ConfigError(
                    f"SDK URL {url!r} has no http:// or https:// scheme; "
                    "expected e.g. http://127.0.0.1:3000/api/inngest"
                )
        for hook in self.alert_webhooks:
            if not hook.removeprefix("slack+").startswith(("http://", "https://")):
                raise ConfigError(
                    f"--alert-webhook {hook!r} has no http:// or https:// scheme; expected "
                    "e.g. https://hooks.slack.com/services/... or http://127.0.0.1:9000/hook "
                    "(env: INLET_ALERT_WEBHOOK)"
                )
        if self.alert_interval is not None and not self.alert_interval > 0:
            raise ConfigError(
                f"--alert-interval {self.alert_interval} is not positive; expected a duration "
                "such as 10s or 1m (env: INLET_ALERT_INTERVAL)"
            )
        for host in self.app_hosts:
            if not host or "/" in host or host != host.strip():
                raise ConfigError(
                    f"--app-host {host!r} is not a host name; expected e.g. app.internal "
                    "or 10.0.0.5, without scheme, port or path (env: INLET_APP_HOST)"
                )
        allowed = {h.lower().strip("[]") for h in self.app_hosts}
        for url in self.sdk_urls if allowed else ():
            host = (urlsplit(url).hostname or "").lower()
            if host not in allowed:
                raise ConfigError(
                    f"SDK URL {url!r} has the host {host!r}, which is not on the --app-host "
                    f"list ({', '.join(sorted(allowed))}); add --app-host {host or 'HOST'}"
                )
        if self.profile == "start":
            self._validate_keys()
        return self

    def _validate_keys(self) -> None:
        if not self.signing_key:
            raise ConfigError(
                "inlet start needs a signing key: set --signing-key-file (INLET_SIGNING_KEY_FILE) "
                f"or INLET_SIGNING_KEY; {KEY_FORMAT}"
            )
        check_signing_key("--signing-key", "INLET_SIGNING_KEY", self.signing_key)
        if self.signing_key_fallback:
            check_signing_key(
                "--signing-key-fallback", "INLET_SIGNING_KEY_FALLBACK", self.signing_key_fallback
            )
        if not self.event_keys:
            raise ConfigError(
                "inlet start needs at least one event key, or every POST /e/{key} is refused: "
                "set --event-key-file (INLET_EVENT_KEY_FILE) or INLET_EVENT_KEY (space-separated "
                "keys); any hard-to-guess text works, e.g. the output of: openssl rand -hex 32"
            )


def fingerprint(key: str) -> str:
    """How a key is shown anywhere (logs, errors, pages): ``sha256:`` and 12 hex digits of
    its hash, enough to tell two keys apart and useless for guessing either."""
    return "sha256:" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]


_SIGNKEY_PREFIX = re.compile(r"^signkey-\w+-")
"""The prefix the SDKs strip (docs/protocol.md §4.1); ``protocol.signing`` strips it too."""

KEY_FORMAT = (
    "expected signkey-<env>-<hex> or bare hex (an even number of at least 16 hex digits), "
    "e.g. signkey-prod-<64 hex digits> made with: echo signkey-prod-$(openssl rand -hex 32)"
)
_MIN_HEX_DIGITS = 16


def check_signing_key(flag: str, env: str, key: str) -> None:
    """Raise ``ConfigError`` unless ``key`` is a signing key the SDKs can use.

    The SDKs hash the hex-decoded key for their bearer token, so the part after the
    prefix must be hex of whole bytes. The message names the key only by its fingerprint.
    """
    digits = _SIGNKEY_PREFIX.sub("", key.strip(), count=1)
    problem = None
    if key != key.strip():
        problem = "has leading or trailing whitespace"
    elif any(c not in "0123456789abcdefABCDEF" for c in digits):
        problem = "is not hexadecimal after its signkey-<env>- prefix"
    elif len(digits) < _MIN_HEX_DIGITS or len(digits) % 2:
        problem = f"has {len(digits)} hex digits after its prefix"
    if problem is not None:
        raise ConfigError(f"{flag} ({env}, key {fingerprint(key)}) {problem}; {KEY_FORMAT}")


def read_key_file(flag: str, path: str) -> str:
    """The contents of a key file, whitespace trimmed; read once, at start-up.

    A file keeps a key out of ``ps`` and ``/proc/*/cmdline``, where a flag's value shows.
    """
    try:
        text = Path(path).expanduser().read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(
            f"{flag} {path!r} cannot be read ({reason}); expected a readable UTF-8 file "
            "holding the key, e.g. one written with: umask 077; echo KEY > FILE"
        ) from None
    if not text.strip():
        raise ConfigError(f"{flag} {path!r} is empty; expected the key as the file's text")
    return text.strip()
