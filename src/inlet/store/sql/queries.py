"""Named queries: the files of :data:`SHARED` under ``-- name:`` headers, overridden per
dialect by ``<dialect>.sql``, loaded once per process and checked against :data:`NAMES`."""

from __future__ import annotations

import functools
from importlib import resources
from types import MappingProxyType
from typing import Final

from inlet.errors import StoreError

NAMES: Final = frozenset(
    [
        "insert_events",
        "event",
        "events_since",
        "insert_skip",
        "insert_skips",
        "reserve_key",
        "reserve_keys",
        "key_holder",
        "gate",
        "set_gate",
        "clear_gate",
        "insert_run",
        "link_event",
        "unlink_event",
        "run_row",
        "lock_run_row",
        "runs_by_ids",
        "memos_of_runs",
        "start_runs",
        "update_run",
        "set_run_events",
        "active_singleton",
        "memos",
        "insert_memo",
        "record_attempt",
        "insert_listener",
        "take_listener",
        "drop_step_listeners",
        "drop_step_timer",
        "branch_item",
        "branch_listener",
        "enqueue",
        "reschedule_start",
        "retry_item",
        "consume_item",
        "reset_attempt",
        "delete_item",
        "leased_items",
        "drop_run_items",
        "drop_run_listeners",
        "release_slots",
        "unpark_oldest",
        "due_timers",
        "due_items",
        "in_flight",
        "park",
        "lease",
        "lease_if_first",
        "hold_slot",
        "save_app_checksum",
        "save_app",
        "save_app_functions_clear",
        "save_app_function",
        "set_app_error",
        "list_apps",
        "list_functions",
        "skips",
        "cron_cursors",
        "set_cron_cursor",
        "list_events",
        "list_events_named",
        "events_page",
        "events_by_id",
        "runs_of_events",
        "skips_of_events",
        "stuck_runs",
        "attempt_counts",
        "run_listeners",
        "run_timers",
        "flow_in_flight",
        "flow_waiting",
        "flow_delayed",
        "flow_gates",
        "runs_for_event",
        "list_runs",
        "history",
        "distinct_paths",
        "listeners_at",
        "pending_count",
        "pending_counts",
        "next_due",
        "extend_lease",
        "release_all_slots",
        "release_all",
        "runs_matching_text",
        "run_counts",
        "run_times",
        "queue_due",
        "queue_parked",
        "queue_waiting",
        "queue_delayed",
        "active_runs",
        "insert_token",
        "token_by_hash",
        "list_tokens",
        "revoke_token",
        "touch_token",
        "insert_user",
        "user_by_name",
        "list_users",
        "delete_user",
        "delete_subject_sessions",
        "insert_session",
        "session_by_hash",
        "extend_session",
        "delete_session",
        "delete_expired_sessions",
        "function_paused",
        "pause_function",
        "resume_function",
        "paused_functions",
        "insert_bulk",
        "get_bulk",
        "list_bulk",
        "update_bulk",
        "skipped_events",
        "count_skipped",
        "purge_runs_of",
        "purge_runs",
        "purge_attempts",
        "purge_memos",
        "purge_run_rows",
        "purge_event_link",
        "purge_floor",
        "purge_old_events",
        "purge_events_of",
        "purge_event_rows",
        "purge_skips",
        "skip_sets_of_events",
        "shrink_skip_set",
        "drop_skip_set",
        "purge_keys",
        "fire_alert",
        "firing_alert",
        "resolve_alert",
        "queue_delivery",
        "due_deliveries",
        "mark_delivered",
        "mark_failed",
        "list_alerts",
        "list_alerts_in",
        "alert_deliveries",
        "quiet_runs",
        "skip_tally",
        "app_errors_since",
        "run_exists",
        "metadata_of",
        "upsert_metadata",
        "purge_metadata",
        "wait_counts",
    ]
)
"""Every name the stores ask for; each dialect must define all of them."""

DIALECTS: Final = ("sqlite", "postgres")

SHARED: Final = (
    "queries.sql",
    "reads.sql",
    "outcomes.sql",
    "access.sql",
    "operations.sql",
    "retention.sql",
    "alerts.sql",
    "stalls.sql",
    "metadata.sql",
    "waiting.sql",
)
"""The statements both dialects share, by concern: the engine's, the read model's, the
API's access (tokens), operating (pauses, bulk operations), retention, alerts, run
metadata and the wait counts of /metrics. A name belongs
to exactly one of them."""


def parse(text: str) -> dict[str, str]:
    """``-- name: NAME`` headers and the statement under each (comments dropped)."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("-- name:"):
            name = stripped.removeprefix("-- name:").strip()
            if name in found:
                raise StoreError(f"query {name!r} is defined twice")
            current = found[name] = []
        elif current is not None and stripped and not stripped.startswith("--"):
            current.append(line.rstrip())
    return {name: "\n".join(lines).rstrip().rstrip(";") for name, lines in found.items()}


def _text(file: str) -> str:
    entry = resources.files("inlet.store").joinpath("sql").joinpath(file)
    return entry.read_text() if entry.is_file() else ""


COMBINED: Final = frozenset(
    [
        "retry_item_recorded",
        "drop_run_work",
        "runs_with_memos",
        "consume_item_ahead",
        "consume_items",
        "update_run_enqueue",
        "update_run_enqueue_one",
        "update_run_lease",
        "update_runs_lease",
    ]
)
"""What a dialect may do in one statement where the others take one per row or two
(``SqlTx`` uses them where they are defined)."""


@functools.cache
def load(dialect: str) -> MappingProxyType[str, str]:
    """The queries of ``dialect``: the shared ones with the dialect's replacements."""
    if dialect not in DIALECTS:
        raise StoreError(f"unknown SQL dialect {dialect!r}; expected one of {DIALECTS}")
    queries: dict[str, str] = {}
    for file in SHARED:
        found = parse(_text(file))
        twice = queries.keys() & found.keys()
        if twice:
            raise StoreError(f"{file} defines {sorted(twice)} again")
        queries.update(found)
    queries.update(parse(_text(f"{dialect}.sql")))
    missing = NAMES - queries.keys()
    if missing:
        raise StoreError(f"the {dialect} queries lack {sorted(missing)}")
    unknown = queries.keys() - NAMES - COMBINED
    if unknown:
        raise StoreError(f"the {dialect} queries define unused {sorted(unknown)}")
    return MappingProxyType(queries)
