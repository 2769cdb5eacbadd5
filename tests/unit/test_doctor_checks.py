"""The verdicts of ``inlet doctor``, from the facts handed to them: each names what it found
and, unless it passed, the fix."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from inlet.config import fingerprint
from inlet.doctor.apps import AppProbe, ServerKeys, app_checks, event_key_hashes
from inlet.doctor.checks import (
    Check,
    DatabaseStatus,
    database_check,
    expression_checks,
    failed,
    settings_checks,
)
from inlet.doctor.probe import app_time
from inlet.model import Function, Trigger
from inlet.protocol.signing import sign

KEY = "signkey-prod-" + "ab" * 32
OTHER_KEY = "signkey-prod-" + "cd" * 32
EVENT_KEY = "event-key-1"
URL = "http://app.test/api/inngest"
NOW = 1_800_000_000.0
START = ServerKeys("start", (KEY,), fingerprint(KEY), event_key_hashes([EVENT_KEY]))
DEV = ServerKeys("dev")
HANDLED = {"x-inngest-sdk-handled": "true"}


def verdicts(checks: list[Check]) -> dict[str, str]:
    return {c.id: c.verdict for c in checks}


def only(checks: list[Check], id_: str) -> Check:
    [found] = [c for c in checks if c.id == id_]
    return found


# --- the database -------------------------------------------------------------------------


def test_a_current_schema_passes() -> None:
    check = database_check(DatabaseStatus("sqlite", "sqlite:///x.db", 14, 14))
    assert (check.verdict, check.detail) == (
        "pass",
        "sqlite:///x.db reachable, schema version 14 (current)",
    )


def test_a_postgres_schema_behind_fails_with_the_migrate_command() -> None:
    url = "postgresql://inlet:***@db/inlet"
    check = database_check(DatabaseStatus("postgresql", url, 7, 6))
    assert check.verdict == "fail"
    assert check.detail == f"{url} has schema version 6; this inlet needs 7"
    assert check.fix == f"run `inlet migrate --database-url {url}`, then restart inlet"


def test_an_sqlite_schema_behind_fails_saying_a_restart_migrates_it() -> None:
    check = database_check(DatabaseStatus("sqlite", "sqlite:///x.db", 14, 13))
    assert check.verdict == "fail"
    assert "migrates an SQLite file when it opens it" in check.fix


def test_an_unreadable_database_fails_with_the_driver_error() -> None:
    check = database_check(DatabaseStatus("postgresql", "postgresql://db", 7, error="refused"))
    assert check.verdict == "fail"
    assert check.detail == "the server cannot read postgresql://db: refused"
    assert "INLET_DATABASE_URL" in check.fix


def test_a_schema_newer_than_this_inlet_fails_asking_for_an_upgrade() -> None:
    check = database_check(DatabaseStatus("sqlite", "sqlite:///x.db", 14, 15))
    assert check.verdict == "fail" and "upgrade" in check.fix


# --- settings -----------------------------------------------------------------------------


def test_inlet_start_reports_its_event_keys_and_a_fallback_key_as_a_warning() -> None:
    checks = settings_checks("start", 2, True, retention=30, exposure=None)
    assert verdicts(checks) == {"event_keys": "pass", "signing_key_fallback": "warn"}
    assert only(checks, "event_keys").detail == "2 event key(s) configured"


def test_inlet_start_without_event_keys_fails() -> None:
    assert only(settings_checks("start", 0, False, 30, None), "event_keys").verdict == "fail"


def test_no_retention_warns_that_the_database_grows_forever() -> None:
    check = only(settings_checks("dev", 0, False, None, None), "retention")
    assert check.verdict == "warn"
    assert check.detail.startswith("no retention: the database grows forever")


def test_inlet_dev_bound_beyond_loopback_warns_with_the_host_fix() -> None:
    check = only(
        settings_checks("dev", 0, False, 30, "inlet dev is listening on 0.0.0.0"), "dev_host"
    )
    assert check.verdict == "warn" and "--host 127.0.0.1" in check.fix


# --- expressions --------------------------------------------------------------------------


def function(slug: str, config: dict[str, Any], *triggers: Trigger) -> Function:
    return Function(slug, URL, slug, URL, triggers, config={"id": slug, **config})


def test_functions_whose_expressions_compile_pass() -> None:
    good = function(
        "shop-charge",
        {"cancel": [{"event": "shop/cancel", "if": "event.data.id == async.data.id"}]},
        Trigger(event="shop/order", expression="event.data.total > 10"),
    )
    [check] = expression_checks([good])
    assert (check.verdict, check.detail) == ("pass", "the expressions of 1 function(s) compile")


def test_a_bad_cancel_expression_fails_naming_the_function_and_the_field() -> None:
    bad = function("shop-charge", {"cancel": [{"event": "shop/cancel", "if": "event.data.id =="}]})
    [check] = expression_checks([bad])
    assert check.verdict == "fail" and check.subject == "shop-charge"
    assert check.detail.startswith("function 'shop-charge': cancel[0].if invalid expression")
    assert "runs start without flow control, cancelOn and timeouts" in check.detail
    assert check.fix.startswith("fix cancel[0].if in 'shop-charge'")
    assert f"inlet apps sync {URL}" in check.fix


def test_a_bad_trigger_or_concurrency_key_fails_naming_its_field() -> None:
    trigger = function("a", {}, Trigger(event="x", expression="event.data.("))
    key = function("b", {"concurrency": [{"limit": 1, "key": "event.data["}]})
    checks = expression_checks([key, trigger])
    assert [c.subject for c in checks] == ["a", "b"]
    assert checks[0].detail.startswith("function 'a': triggers[0].expression invalid expression")
    assert checks[1].detail.startswith("function 'b': concurrency[0].key invalid expression")
    assert failed(checks)


# --- apps ---------------------------------------------------------------------------------


def introspection(key: str = KEY, event_key: str | None = EVENT_KEY, **extra: Any) -> bytes:
    info = {
        "authentication_succeeded": True,
        "mode": "cloud",
        "event_key_hash": hashlib.sha256(event_key.encode()).hexdigest() if event_key else None,
        **extra,
    }
    return json.dumps(info).encode()


def answered(body: bytes, status: int = 200, sign_with: str | None = KEY, **kw: Any) -> AppProbe:
    headers = {"x-inngest-sdk": "py:v0.5.19"}
    if sign_with:
        headers["x-inngest-signature"] = sign(body, sign_with, NOW)
    fields: dict[str, Any] = {
        "url": URL,
        "app_id": "shop",
        "sent_at": NOW - 0.1,
        "received_at": NOW + 0.1,
        "status": status,
        "headers": headers,
        "body": body,
        "app_time": NOW,
        **kw,
    }
    return AppProbe(**fields)


def test_a_healthy_production_app_passes_every_check() -> None:
    checks = app_checks(answered(introspection()), START)
    assert verdicts(checks) == {
        "app.reachable": "pass",
        "app.mode": "pass",
        "app.signing_key": "pass",
        "app.event_key": "pass",
        "app.clock": "pass",
    }
    assert all(c.subject == URL for c in checks)
    assert only(checks, "app.reachable").detail == f"shop ({URL}) answered, SDK py:v0.5.19"


def test_an_unreachable_app_fails_alone_with_the_reason() -> None:
    probe = AppProbe(URL, "shop", error="unreachable: [Errno 111] Connection refused")
    [check] = app_checks(probe, START)
    assert (check.id, check.verdict) == ("app.reachable", "fail")
    assert check.detail == (
        f"the server cannot reach the app shop ({URL}): unreachable: [Errno 111] Connection refused"
    )
    assert check.fix.startswith("start the app")


def test_an_app_answering_401_holds_another_signing_key() -> None:
    probe = answered(b'{"message":"Unauthorized"}', 401, sign_with=None, headers=HANDLED)
    checks = app_checks(probe, START)
    check = only(checks, "app.signing_key")
    assert check.verdict == "fail"
    assert "rejected a probe signed with this server's signing key" in check.detail
    assert fingerprint(KEY) in check.detail
    assert "INNGEST_SIGNING_KEY" in check.fix


def test_a_401_the_sdk_did_not_send_is_a_proxy_not_a_key_problem() -> None:
    [check] = app_checks(answered(b"denied", 401, sign_with=None, headers={}), START)
    assert (check.id, check.verdict) == ("app.reachable", "fail")
    assert "something in front of the app asks for credentials" in check.detail


def test_a_production_app_answering_inlet_dev_401_runs_in_the_wrong_mode() -> None:
    probe = answered(b"{}", 401, sign_with=None, headers=HANDLED)
    check = only(app_checks(probe, DEV), "app.mode")
    assert check.verdict == "fail" and "INNGEST_DEV=1" in check.fix


def test_a_dev_mode_app_refusing_a_cloud_server_kind_runs_in_the_wrong_mode() -> None:
    checks = app_checks(answered(b"{}", 403, sign_with=None), START)
    check = only(checks, "app.mode")
    assert check.verdict == "fail" and "runs in dev mode" in check.detail
    assert "INNGEST_DEV=0" in check.fix


def test_an_app_reporting_the_other_mode_fails() -> None:
    checks = app_checks(answered(introspection(mode="dev")), START)
    assert only(checks, "app.mode").verdict == "fail"


def test_an_answer_without_the_sdk_header_is_not_an_sdk() -> None:
    probe = answered(b"<html>", sign_with=None, headers={"content-type": "text/html"})
    [check] = app_checks(probe, START)
    assert check.verdict == "fail" and "without an X-Inngest-SDK header" in check.detail


def test_an_unsigned_or_wrongly_signed_answer_fails_the_signing_check() -> None:
    body = introspection()
    unsigned = only(app_checks(answered(body, sign_with=None), START), "app.signing_key")
    forged = only(app_checks(answered(body, sign_with=OTHER_KEY), START), "app.signing_key")
    assert unsigned.verdict == forged.verdict == "fail"
    assert "no X-Inngest-Signature" in unsigned.detail
    assert "signed with none of this server's signing keys" in forged.detail


def test_an_event_key_the_server_does_not_hold_fails_and_none_warns() -> None:
    other = only(app_checks(answered(introspection(event_key="nope")), START), "app.event_key")
    none = only(app_checks(answered(introspection(event_key=None)), START), "app.event_key")
    assert other.verdict == "fail" and "get 401" in other.detail
    assert none.verdict == "warn"


def test_a_failed_last_sync_fails_with_the_sync_command() -> None:
    probe = answered(introspection(), last_sync_error="boom")
    check = only(app_checks(probe, START), "app.synced")
    assert check.verdict == "fail" and check.fix.endswith(f"inlet apps sync {URL}")


def test_a_clock_a_minute_off_warns_and_ten_minutes_off_fails_in_production() -> None:
    minute = only(app_checks(answered(introspection(), app_time=NOW - 60), START), "app.clock")
    ten = only(app_checks(answered(introspection(), app_time=NOW + 600), START), "app.clock")
    assert minute.verdict == "warn" and "60s behind" in minute.detail
    assert ten.verdict == "fail" and "600s ahead of" in ten.detail
    assert "NTP" in ten.fix


def test_the_app_time_is_its_signature_time_else_its_date_header() -> None:
    assert app_time({"x-inngest-signature": "t=1800000000&s=ab"}) == NOW
    assert app_time({"date": "Fri, 15 Jan 2027 08:00:00 GMT"}) == 1_800_000_000.0
    assert app_time({}) is None
