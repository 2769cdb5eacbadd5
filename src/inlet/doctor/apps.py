"""What an app's answer to the doctor's probe says: reachable, in the server's mode, holding
its signing key and one of its event keys, with a clock close to the server's. Pure.

The probe is the SDK's introspection (``GET`` on the serve endpoint, docs/protocol.md §3.1),
signed as a call is. An SDK in production mode answers it only if it verifies the
signature, with its mode, key hashes and an answer signed with the same key; an SDK in the
other mode than the server answers 403 (Python) or reports its ``mode``.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from inlet.doctor.checks import Check
from inlet.protocol.signing import verify

Make = Callable[..., Check]
"""``Check`` with the subject filled in."""

SKEW_WARN = 30.0
"""Seconds apart at which the app's clock is worth a warning."""
SKEW_FAIL = 300.0
"""Seconds apart at which the TypeScript SDK refuses the server's signatures."""


@dataclass(frozen=True, slots=True)
class AppProbe:
    """One signed ``GET`` to an app's serve endpoint, as the server made it."""

    url: str
    """The app's URL as shown (no query string)."""
    app_id: str = ""
    sent_at: float = 0.0
    received_at: float = 0.0
    error: str | None = None
    """Why no answer came (unreachable, timed out), or None."""
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    """The answer's headers, names in lower case."""
    body: bytes = b""
    app_time: float | None = None
    """The app's clock when it answered: its signature's ``t``, else its ``Date`` header."""
    last_sync_error: str | None = None


@dataclass(frozen=True, slots=True)
class ServerKeys:
    """What the server holds, to compare with what the app reports."""

    profile: str
    signing_keys: tuple[str, ...] = ()
    signing_key_shown: str = ""
    """The primary key's fingerprint."""
    event_key_hashes: frozenset[str] = frozenset()
    """``sha256`` hex of each event key, as the SDKs report theirs."""


def event_key_hashes(keys: Sequence[str]) -> frozenset[str]:
    return frozenset(hashlib.sha256(k.encode()).hexdigest() for k in keys)


def app_checks(probe: AppProbe, server: ServerKeys) -> list[Check]:
    """The verdicts on one app; after a failure that hides the rest (no answer, another
    key, another mode) the others are left out rather than guessed."""
    shown = probe.url
    name = f"{probe.app_id} ({shown})" if probe.app_id else shown
    start = server.profile == "start"

    check: Make = functools.partial(Check, subject=shown)

    if probe.error is not None:
        return [
            check(
                "app.reachable",
                "fail",
                f"the server cannot reach the app {name}: {probe.error}",
                "start the app, or check that the server's host can reach this URL; if the "
                "app moved, sync its new URL (inlet apps sync NEW_URL)",
            )
        ]
    sdk = probe.headers.get("x-inngest-sdk")
    # The SDKs mark their own refusals (401, 403) with X-Inngest-SDK-Handled.
    handled = sdk is not None or "x-inngest-sdk-handled" in probe.headers
    if probe.status == 401 and not handled:
        return [
            check(
                "app.reachable",
                "fail",
                f"{name} answered HTTP 401 without the X-Inngest-SDK-Handled header the SDKs "
                "send: something in front of the app asks for credentials",
                "let inlet through to the serve endpoint (the proxy's auth), or sync the app's "
                "direct URL",
            )
        ]
    if probe.status == 401:
        reach = check("app.reachable", "pass", f"{name} answered (HTTP 401)")
        if start:
            return [
                reach,
                check(
                    "app.signing_key",
                    "fail",
                    f"the app {name} rejected a probe signed with this server's signing key "
                    f"({server.signing_key_shown}): it holds a different signing key, or none",
                    "give the app the key inlet start has (INNGEST_SIGNING_KEY = the content "
                    "of INLET_SIGNING_KEY or --signing-key-file) and restart it",
                ),
            ]
        return [
            reach,
            check(
                "app.mode",
                "fail",
                f"the app {name} answered HTTP 401 to an unsigned probe: it runs in "
                "production mode, and inlet dev signs nothing",
                "set INNGEST_DEV=1 on the app, or run inlet start with the app's signing key",
            ),
        ]
    if probe.status == 403 and handled:
        reach = check("app.reachable", "pass", f"{name} answered (HTTP 403)")
        return [reach, _mode_mismatch(check, name, start)]
    if sdk is None:
        return [
            check(
                "app.reachable",
                "fail",
                f"{name} answered HTTP {probe.status} without an X-Inngest-SDK header: it is "
                "not an Inngest SDK serve endpoint (a proxy, or another service on that URL)",
                "point the app's URL at its serve endpoint (usually /api/inngest) and sync it "
                "again (inlet apps sync URL)",
            )
        ]
    if probe.status != 200:
        return [
            check(
                "app.reachable",
                "fail",
                f"{name} answered HTTP {probe.status} to the probe",
                "look at the app's logs for this request; it should answer 200",
            )
        ]
    info = _json_object(probe.body)
    found = [check("app.reachable", "pass", f"{name} answered, SDK {sdk}")]
    if probe.last_sync_error:
        found.append(
            check(
                "app.synced",
                "fail",
                f"the last sync of {name} failed: {probe.last_sync_error}",
                f"fix that, then sync it: inlet apps sync {shown}",
            )
        )
    mode = info.get("mode")
    if mode is not None and mode != ("cloud" if start else "dev"):
        found.append(_mode_mismatch(check, name, start))
        return found
    found.append(check("app.mode", "pass", f"{name} runs in {mode or 'an unreported'} mode"))
    if start:
        found.append(_signing(check, name, probe, info, server))
        found.append(_event_key(check, name, info, server))
    found.extend(_skew(check, name, probe, start))
    return found


def _mode_mismatch(check: Make, name: str, start: bool) -> Check:
    if start:
        return check(
            "app.mode",
            "fail",
            f"the app {name} runs in dev mode; inlet start is production",
            "set INNGEST_DEV=0 and INNGEST_SIGNING_KEY (= INLET_SIGNING_KEY) on the app, "
            "then restart it",
        )
    return check(
        "app.mode",
        "fail",
        f"the app {name} runs in production mode; inlet dev is a dev server",
        "set INNGEST_DEV=1 on the app, or run inlet start with the app's signing key",
    )


def _signing(
    check: Make, name: str, probe: AppProbe, info: dict[str, Any], server: ServerKeys
) -> Check:
    header = probe.headers.get("x-inngest-signature")
    if info.get("authentication_succeeded") is not True:
        return check(
            "app.signing_key",
            "fail",
            f"the app {name} answered the signed probe as an unauthenticated one: its SDK "
            "did not verify this server's signature",
            "give the app INNGEST_SIGNING_KEY = INLET_SIGNING_KEY and INNGEST_DEV=0",
        )
    if not header:
        return check(
            "app.signing_key",
            "fail",
            f"the app {name} verified the probe but its answer has no X-Inngest-Signature; "
            "something between inlet and the app answered, or the SDK signs nothing",
            "check proxies between inlet and the app; upgrade the SDK",
        )
    if not verify(header, probe.body, server.signing_keys, 0.0, max_skew=None):
        return check(
            "app.signing_key",
            "fail",
            f"the answer of {name} is signed with none of this server's signing keys",
            "check proxies between inlet and the app (the answer was altered on the way)",
        )
    return check(
        "app.signing_key",
        "pass",
        f"{name} verified a probe signed with {server.signing_key_shown} and signed its answer",
    )


def _event_key(check: Make, name: str, info: dict[str, Any], server: ServerKeys) -> Check:
    reported = info.get("event_key_hash")
    if not reported:
        return check(
            "app.event_key",
            "warn",
            f"the app {name} has no event key: it cannot send events",
            "give the app INNGEST_EVENT_KEY = one of inlet's event keys",
        )
    if reported not in server.event_key_hashes:
        return check(
            "app.event_key",
            "fail",
            f"the event key of {name} is none of this server's: the events it sends get 401",
            "give the app INNGEST_EVENT_KEY = one of inlet's event keys (--event-key-file, "
            "INLET_EVENT_KEY)",
        )
    return check("app.event_key", "pass", f"{name} holds one of this server's event keys")


def _skew(check: Make, name: str, probe: AppProbe, start: bool) -> list[Check]:
    if probe.app_time is None:
        return []
    # The app's time is within the round trip, and a Date header is rounded down.
    middle = (probe.sent_at + probe.received_at) / 2
    slack = (probe.received_at - probe.sent_at) / 2 + 1.0
    skew = probe.app_time - middle
    apart = max(0.0, abs(skew) - slack)
    way = "ahead of" if skew > 0 else "behind"
    detail = f"the clock of {name} is {abs(skew):.0f}s {way} the server's"
    fix = "run NTP (chrony, systemd-timesyncd) on both hosts"
    if apart > SKEW_FAIL and start:
        return [
            check(
                "app.clock",
                "fail",
                f"{detail}: the TypeScript SDK refuses signatures over {SKEW_FAIL:.0f}s off",
                fix,
            )
        ]
    if apart > SKEW_WARN:
        return [check("app.clock", "warn", detail, fix)]
    return [check("app.clock", "pass", f"the clock of {name} is within {SKEW_WARN:.0f}s")]


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body or b"{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
