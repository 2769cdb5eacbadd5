"""The sync PUT Inlet sends an app, and how to read the registration it answers with.

In production the PUT is signed as a call request is (docs/protocol.md §4.2): the SDKs
verify ``X-Inngest-Signature`` over the canonical form of the body, and an SDK in cloud
mode answers an unsigned in-band sync with 401. Pure: the time comes in as an argument.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from inlet.protocol.jcs import canonical
from inlet.protocol.signing import sign


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
