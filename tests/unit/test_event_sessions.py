"""An event's session layers fold into ``meta.sessions`` as Inngest folds them: the
sender's ``sessions`` (a JSON merge patch) over the ``propagated_sessions`` an SDK stamps
on the events a run sends, invokes or defers. The TS SDK reads only ``meta.sessions``."""

from __future__ import annotations

from inlet.api.render import event_v1
from inlet.model import JSON, Event, folded_meta


def _wire_meta(meta: dict[str, JSON]) -> JSON:
    event = Event(internal_id="01J", name="app/a", data={}, id="01J", ts=1, meta=meta)
    return event.to_wire()["meta"]


def test_propagated_sessions_reach_the_function_as_its_sessions() -> None:
    meta = {"propagated_sessions": {"org": "acme"}}
    assert _wire_meta(meta) == {"sessions": {"org": "acme"}}


def test_the_senders_own_session_wins_over_the_propagated_one_for_its_key() -> None:
    meta = {"sessions": {"org": "override"}, "propagated_sessions": {"org": "acme", "team": "core"}}
    assert _wire_meta(meta) == {"sessions": {"org": "override", "team": "core"}}


def test_a_null_session_cuts_the_inherited_one_and_a_null_field_cuts_them_all() -> None:
    inherited = {"org": "acme", "team": "core"}
    cut_one = {"sessions": {"team": None}, "propagated_sessions": inherited}
    assert _wire_meta(cut_one) == {"sessions": {"org": "acme"}}
    assert _wire_meta({"sessions": None, "propagated_sessions": inherited}) == {}
    assert _wire_meta({"sessions": {"org": None}}) == {}


def test_folding_twice_changes_nothing_so_a_stored_event_reads_back_the_same() -> None:
    meta = {"sessions": {"team": None}, "propagated_sessions": {"org": "a", "team": "b"}, "x": 1}
    once = folded_meta(meta)
    assert once == {"x": 1, "sessions": {"org": "a"}}
    assert folded_meta(once) == once


def test_meta_without_session_layers_or_with_shapes_no_sdk_writes_is_kept_as_sent() -> None:
    plain = {"sessions": {"org": "acme"}, "trace": "t-1"}
    assert folded_meta(plain) is plain
    odd = {"propagated_sessions": [{"id": "s-1"}]}
    assert folded_meta(odd) is odd


def test_the_events_api_shows_the_folded_sessions_as_the_function_sees_them() -> None:
    meta = {"sessions": {"org": "override"}, "propagated_sessions": {"org": "acme", "team": "x"}}
    event = Event(internal_id="01J", name="app/a", data={}, id="01J", ts=1, meta=meta)
    assert event_v1(event)["meta"] == {"sessions": {"org": "override", "team": "x"}}
