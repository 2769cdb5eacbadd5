-- The statements of the SQL stores, by name, in the subset SQLite and PostgreSQL both
-- speak (ON CONFLICT, RETURNING, recursive CTEs). `?` placeholders; a `{marks}` stands
-- for as many `?` as the call has values. A dialect file (sqlite.sql, postgres.sql) may
-- replace a name with its own text, and defines the names whose text differs by dialect
-- (many rows as one JSON array); inlet.store.sql.queries checks that every name is defined.

-- name: event
SELECT internal_id, body, received_at FROM events WHERE internal_id = ?

-- name: events_since
-- received_at is this server's clock: the index reads only the events that arrived since.
SELECT internal_id, body, received_at FROM events WHERE name = ? AND received_at >= ?
ORDER BY received_at, internal_id

-- name: insert_skip
INSERT INTO skips (event_id, function_slug, reason, at) VALUES (?, ?, ?, ?)
ON CONFLICT DO NOTHING

-- name: insert_skips
-- An ingest's refusals, a row per function and reason naming its events (a JSON array),
-- written by write_rows (a row each here; one array of rows on PostgreSQL).
INSERT INTO skip_sets (id, function_slug, reason, at, event_ids) VALUES (?, ?, ?, ?, ?)
ON CONFLICT DO NOTHING

-- name: reserve_key
INSERT INTO run_keys (function_slug, key, run_id, expires_at) VALUES (?, ?, ?, ?)
ON CONFLICT (function_slug, key) DO UPDATE SET
    run_id = excluded.run_id, expires_at = excluded.expires_at
WHERE run_keys.expires_at <= ?

-- name: key_holder
SELECT run_id FROM run_keys WHERE function_slug = ? AND key = ?

-- name: gate
SELECT tat, run_id, first_at, size, size_bytes FROM flow_state
WHERE function_slug = ? AND gate = ? AND key = ?

-- name: set_gate
INSERT INTO flow_state (function_slug, gate, key, tat, run_id, first_at, size, size_bytes)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (function_slug, gate, key) DO UPDATE SET
    tat = excluded.tat, run_id = excluded.run_id, first_at = excluded.first_at,
    size = excluded.size, size_bytes = excluded.size_bytes

-- name: clear_gate
DELETE FROM flow_state WHERE function_slug = ? AND gate = ? AND key = ?

-- name: insert_run
INSERT INTO runs (id, function_slug, event_ids, status, created_at, priority, ckeys,
    singleton_key)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)

-- name: link_event
INSERT INTO event_runs (event_id, run_id) VALUES (?, ?) ON CONFLICT DO NOTHING

-- name: unlink_event
DELETE FROM event_runs WHERE event_id = ? AND run_id = ?

-- name: run_row
SELECT id, function_slug, event_ids, status, created_at, started_at, ended_at, output,
    error, request_version, force_plan, state_size, step_count, priority, ckeys
FROM runs WHERE id = ?

-- name: lock_run_row
-- The run read to be changed (postgres.sql locks the row).
SELECT id, function_slug, event_ids, status, created_at, started_at, ended_at, output,
    error, request_version, force_plan, state_size, step_count, priority, ckeys
FROM runs WHERE id = ?

-- name: runs_by_ids
-- A `{ids}` list is one parameter: a JSON array here, an array on PostgreSQL.
SELECT id, function_slug, event_ids, status, created_at, started_at, ended_at, output,
    error, request_version, force_plan, state_size, step_count, priority, ckeys
FROM runs WHERE id IN (SELECT value FROM json_each(?))

-- name: memos_of_runs
SELECT run_id, step_id, value, name, op, seq, recorded_at FROM memos
WHERE run_id IN (SELECT value FROM json_each(?)) ORDER BY run_id, seq

-- name: start_runs
UPDATE runs SET status = 'RUNNING', started_at = ?
WHERE id IN (SELECT value FROM json_each(?)) AND status = 'QUEUED'

-- name: update_run
UPDATE runs SET status = ?, started_at = ?, ended_at = ?, output = ?, error = ?,
    request_version = ?, force_plan = ?, step_count = ?, state_size = ?
WHERE id = ?

-- name: set_run_events
UPDATE runs SET event_ids = ? WHERE id = ?

-- name: active_singleton
SELECT id FROM runs WHERE function_slug = ? AND singleton_key = ?
AND status IN ('QUEUED', 'RUNNING') LIMIT 1

-- name: memos
SELECT step_id, value, name, op, seq, recorded_at FROM memos WHERE run_id = ? ORDER BY seq

-- name: insert_memo
INSERT INTO memos (run_id, step_id, seq, value, name, op, recorded_at)
VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING

-- name: record_attempt
INSERT INTO attempts (run_id, item_id, step_id, attempt, started_at, ended_at, outcome,
    status_code, name, output, error, op_step, due_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)

-- name: insert_listener
INSERT INTO listeners (id, run_id, kind, event, expression, index_path, index_value,
    step_id, expires_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING

-- name: take_listener
DELETE FROM listeners WHERE id = ?

-- name: drop_step_listeners
DELETE FROM listeners WHERE run_id = ? AND step_id = ?

-- name: drop_step_timer
DELETE FROM queue WHERE run_id = ? AND kind = 'timer' AND step_id = ?

-- name: branch_item
-- A run timeout is not a branch of a parallel group.
SELECT 1 FROM queue WHERE run_id = ? AND (kind != 'timer' OR step_id NOT LIKE 'timeout:%')
LIMIT 1

-- name: branch_listener
-- A cancelOn listener is not a branch of a parallel group.
SELECT 1 FROM listeners WHERE run_id = ? AND kind != 'cancel' LIMIT 1

-- name: enqueue
INSERT INTO queue (id, run_id, kind, step_id, due_at, attempt, join_, name, payload, rank,
    orank, ckeys)
VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING

-- name: reschedule_start
UPDATE queue SET due_at = ?, rank = ?, orank = ?
WHERE run_id = ? AND kind = 'discovery' AND lease IS NULL AND parked IS NULL

-- name: retry_item
UPDATE queue SET due_at = ?, rank = ?, orank = ?, attempt = attempt + 1, lease = NULL
WHERE id = ? AND lease = ?

-- name: reset_attempt
UPDATE queue SET attempt = 0 WHERE id = ? AND lease = ? AND run_id = ?

-- name: consume_item
DELETE FROM queue WHERE id = ? AND lease = ?

-- name: delete_item
DELETE FROM queue WHERE id = ?

-- name: leased_items
SELECT id FROM queue WHERE run_id = ? AND lease IS NOT NULL

-- name: drop_run_items
DELETE FROM queue WHERE run_id = ?

-- name: drop_run_listeners
DELETE FROM listeners WHERE run_id = ?

-- name: release_slots
DELETE FROM inflight WHERE item_id = ? RETURNING key

-- name: unpark_oldest
UPDATE queue SET parked = NULL, due_at = ?, rank = orank
WHERE id IN (SELECT id FROM queue WHERE parked = ? ORDER BY orank LIMIT 1)

-- name: due_timers
-- A timer's rank is its due time (priorities never move timers). The kind is written
-- out, not a parameter: a generic plan could not use the partial index on timers.
SELECT id, run_id, kind, step_id, due_at, attempt, join_, name, payload, ckeys FROM queue
WHERE kind = 'timer' AND due_at <= ? ORDER BY due_at, id LIMIT ?

-- name: due_items
-- rank = due_at - priority: a due item has rank <= now + the largest delay any priority
-- asked for, which bounds the index scan.
SELECT id, run_id, kind, step_id, due_at, attempt, join_, name, payload, ckeys FROM queue
WHERE rank <= ? AND due_at <= ? ORDER BY rank, id LIMIT ?

-- name: in_flight
SELECT i.key, count(*) FROM inflight i JOIN queue q ON q.id = i.item_id
WHERE i.key IN ({marks}) AND q.lease IS NOT NULL AND q.due_at > ? GROUP BY i.key

-- name: park
UPDATE queue SET parked = ?, due_at = ?, rank = ? WHERE id = ?

-- name: lease
-- Run once per row (lease, until, until, id); postgres.sql's text takes them all at once.
UPDATE queue SET lease = ?, due_at = ?, rank = ? WHERE id = ?

-- name: lease_if_first
-- (lease, until, until, id, horizon, now): due_items' first row, if it is this one.
UPDATE queue SET lease = ?, due_at = ?, rank = ?
WHERE id = ? AND id = (SELECT id FROM queue WHERE rank <= ? AND due_at <= ? ORDER BY rank, id LIMIT 1)

-- name: hold_slot
INSERT INTO inflight (key, item_id) VALUES (?, ?) ON CONFLICT DO NOTHING

-- Apps, cron, and the reads of the API

-- name: save_app_checksum
SELECT checksum FROM apps WHERE url = ?

-- name: save_app
INSERT INTO apps (url, app_id, sdk, framework, checksum, synced_at, error)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (url) DO UPDATE SET
    app_id = excluded.app_id, sdk = excluded.sdk, framework = excluded.framework,
    checksum = excluded.checksum, synced_at = excluded.synced_at, error = excluded.error,
    error_since = CASE WHEN excluded.error IS NULL THEN NULL ELSE apps.error_since END

-- name: save_app_functions_clear
DELETE FROM functions WHERE app_url = ?

-- name: save_app_function
INSERT INTO functions (slug, app_url, name, url, triggers, retries, config)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (slug) DO UPDATE SET
    app_url = excluded.app_url, name = excluded.name, url = excluded.url,
    triggers = excluded.triggers, retries = excluded.retries, config = excluded.config

-- name: set_app_error
-- error_since keeps the first failure's time while the app keeps failing.
INSERT INTO apps (url, app_id, error, error_since) VALUES (?, '', ?, ?)
ON CONFLICT (url) DO UPDATE SET error = excluded.error,
    error_since = CASE WHEN excluded.error IS NULL THEN NULL
        ELSE coalesce(apps.error_since, excluded.error_since) END

-- name: cron_cursors
SELECT function_slug, expression, last_fire FROM cron_cursors

-- name: set_cron_cursor
-- Only ever forward.
INSERT INTO cron_cursors (function_slug, expression, last_fire) VALUES (?, ?, ?)
ON CONFLICT (function_slug, expression) DO UPDATE SET
    last_fire = CASE WHEN excluded.last_fire > cron_cursors.last_fire
                THEN excluded.last_fire ELSE cron_cursors.last_fire END

-- name: distinct_paths
-- The distinct index paths of an event name's listeners, one index probe per path (a
-- skip scan): SELECT DISTINCT would read every listener of the name.
WITH RECURSIVE paths(path) AS (
    SELECT min(index_path) FROM listeners WHERE event = ?
    UNION ALL
    SELECT (SELECT min(index_path) FROM listeners WHERE event = ? AND index_path > path)
    FROM paths WHERE path IS NOT NULL
)
SELECT path FROM paths WHERE path IS NOT NULL

-- name: listeners_at
SELECT id, run_id, kind, event, expression, index_path, index_value, step_id, expires_at
FROM listeners WHERE event = ? AND index_path = ? AND index_value = ?

-- name: pending_counts
SELECT run_id, count(*) FROM queue WHERE run_id IN (SELECT value FROM json_each(?))
GROUP BY run_id

-- name: pending_count
SELECT count(*) FROM queue WHERE run_id = ?

-- name: next_due
SELECT min(due_at) FROM queue

-- name: extend_lease
UPDATE queue SET due_at = ? WHERE id = ? AND lease = ?

-- name: release_all_slots
DELETE FROM inflight

-- name: release_all
-- A lease's due_at is its expiry; an item released at start-up is due now. Parked items
-- are looked at again too: the slots they waited for are free now.
UPDATE queue SET lease = NULL, parked = NULL, due_at = 0, rank = orank
WHERE lease IS NOT NULL OR parked IS NOT NULL
