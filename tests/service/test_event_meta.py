"""An event's ``meta`` (TS v4 and Python 0.5.20 sessions) is stored as sent, echoed to the
SDK in the call request and shown by the API; an event without it carries none."""

from __future__ import annotations

from typing import Any

from inlet.testing import Context, FakeClock, FakeSDK, InletTest

META = {"propagated_sessions": [{"id": "s-1", "key": "user-7"}], "sessions": {"chat": "c-9"}}


async def test_event_meta_is_stored_echoed_to_the_sdk_and_shown_by_the_api(
    clock: FakeClock,
) -> None:
    sdk = FakeSDK("svc", clock=clock)
    seen: list[dict[str, Any]] = []

    @sdk.function("meta", event="svc/meta")
    async def meta(ctx: Context) -> None:
        seen.append(ctx.event)

    async with InletTest(sdk, clock=clock) as inlet:
        (with_meta, without) = await inlet.send(
            {"name": "svc/meta", "data": {"n": 1}, "meta": META},
            {"name": "svc/meta", "data": {"n": 2}},
        )
        await inlet.runs(with_meta)
        await inlet.runs(without)
        shown = await inlet.event(with_meta)
        plain = await inlet.event(without)

    by_n = {e["data"]["n"]: e for e in seen}
    assert by_n[1]["meta"] == META
    assert "meta" not in by_n[2]
    assert shown["meta"] == META
    assert plain["meta"] is None
