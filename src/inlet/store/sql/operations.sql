-- Operating on functions and runs: paused functions, bulk operations and the events a
-- paused function skipped (inlet.store.operations). Same conventions as queries.sql.

-- name: function_paused
SELECT 1 FROM paused_functions WHERE slug = ?

-- name: pause_function
INSERT INTO paused_functions (slug, paused_at) VALUES (?, ?) ON CONFLICT DO NOTHING

-- name: resume_function
DELETE FROM paused_functions WHERE slug = ?

-- name: paused_functions
SELECT slug, paused_at FROM paused_functions

-- name: insert_bulk
INSERT INTO bulk_ops (id, kind, function_slug, statuses, created_after, created_before,
    name, state, total, done, changed, cursor, error, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)

-- name: get_bulk
SELECT id, kind, function_slug, statuses, created_after, created_before, name, state,
    total, created_at, updated_at, done, changed, cursor, error
FROM bulk_ops WHERE id = ?

-- name: list_bulk
SELECT id, kind, function_slug, statuses, created_after, created_before, name, state,
    total, created_at, updated_at, done, changed, cursor, error
FROM bulk_ops ORDER BY created_at DESC, id DESC LIMIT ?

-- name: update_bulk
-- Only while running: a finished (or cancelled) operation keeps its last word.
UPDATE bulk_ops SET state = ?, done = ?, changed = ?, cursor = ?, error = ?, updated_at = ?
WHERE id = ? AND state = 'running'

-- name: skipped_events
-- {after} and {cursor} are fixed clauses the caller adds when it has those bounds.
-- `refusals` is the view of a gate's skips and an ingest's skip sets, a row each.
SELECT event_id, at FROM refusals
WHERE function_slug = ? AND reason = ? AND at <= ? {after} {cursor}
ORDER BY at DESC, event_id DESC LIMIT ?

-- name: count_skipped
SELECT count(*) FROM refusals WHERE function_slug = ? AND reason = ? AND at <= ? {after}
