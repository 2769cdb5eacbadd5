"""The sync PUT Inlet sends an app, and how to read the registration it answers with.

In production the PUT is signed as a call request is (docs/protocol.md §4.2): the SDKs
verify ``X-Inngest-Signature`` over the canonical form of the body, and an SDK in cloud
mode answers an unsigned in-band sync with 401, a signed one with a signed answer.
Pure: the time comes in as an argument.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from inlet.protocol.jcs import canonical
from inlet.protocol.signing import sign, verify


@dataclass(frozen=True, slots=True)
class SyncRequest:
    body: bytes
    headers: dict[str, str]


def sync_request(url: str, server_kind: str, signing_key: str | None, now: float) -> SyncRequest:
    """The PUT body and headers that ask the app at ``url`` to sync.

    With a signing key the body is signed with it; without one (``inlet dev``) it goes
    unsigned, and an SDK in dev mode then registers out of band.
    """
    body = canonical({"url": url})
    headers = {
        "Content-Type": "application/json",
        "X-Inngest-Server-Kind": server_kind,
        "X-Inngest-Sync-Kind": "in_band",
    }
    if signing_key:
        headers["X-Inngest-Signature"] = sign(body, signing_key, now)
    return SyncRequest(body, headers)


def in_band_payload(answer: Any) -> Any:
    """An in-band answer as a register body: the SDK's language and version become ``sdk``
    (``py:v0.5.19``), which is what an out-of-band registration carries."""
    if not isinstance(answer, dict) or answer.get("sdk"):
        return answer
    language, version = answer.get("sdk_language"), answer.get("sdk_version")
    if isinstance(language, str) and isinstance(version, str):
        return {**answer, "sdk": f"{language}:v{version}"}
    return answer


def answer_signature_problem(header: str | None, body: bytes, keys: tuple[str, ...]) -> str | None:
    """Why an in-band answer is not signed by an SDK holding one of ``keys``, or None.

    Both SDKs in cloud mode sign every answer to a request they verified, this one included,
    with the key that verified it: HMAC-SHA256 over the body bytes sent, then the header's
    ``t`` (Python 0.5: ``comm_lib.utils.wrap_handler`` signs each ``CommResponse``; TS v3/v4:
    ``InngestCommHandler`` adds ``getResponseSignature`` to every response). Only an SDK in
    dev mode answers in band unsigned (TS does; Python syncs out of band instead). As for
    call replies (``steps/machine.py``), the timestamp's age is not checked: an app's clock
    may drift, and the answer is to a request made a moment ago.
    """
    if not header:
        return (
            "it has no X-Inngest-Signature header, and an SDK in production mode signs its "
            "answer; the app runs in dev mode (unset INNGEST_DEV and give it "
            "INNGEST_SIGNING_KEY = INLET_SIGNING_KEY), or a proxy answered instead of the SDK"
        )
    if not verify(header, body, keys, 0.0, max_skew=None):
        return (
            "its X-Inngest-Signature was made with none of this server's signing keys; "
            "something other than the SDK answered or the answer was altered on the way "
            "(check proxies between inlet and the app)"
        )
    return None
