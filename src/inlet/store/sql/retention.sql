-- Retention (inlet.store.sql.retention): finished runs and their history, old events and
-- expired run keys deleted in small batches. `{marks}` stands for as many `?` as values.

-- name: purge_runs_of
-- The function's runs that ended before the cutoff, oldest first (runs_function_ended).
SELECT id, event_ids FROM runs
WHERE function_slug = ? AND ended_at IS NOT NULL AND ended_at < ?
AND status IN ('COMPLETED', 'FAILED', 'CANCELLED')
ORDER BY ended_at LIMIT ?

-- name: purge_runs
-- Runs of every function but those with a limit of their own, oldest first by runs_ended:
-- `status || ''` keeps SQLite from reading every finished run by runs_status and sorting.
SELECT id, event_ids FROM runs
WHERE ended_at IS NOT NULL AND ended_at < ?
AND (status || '') IN ('COMPLETED', 'FAILED', 'CANCELLED')
AND function_slug NOT IN ({marks})
ORDER BY ended_at LIMIT ?

-- name: purge_attempts
DELETE FROM attempts WHERE run_id IN ({marks})

-- name: purge_memos
DELETE FROM memos WHERE run_id IN ({marks})

-- name: purge_run_rows
DELETE FROM runs WHERE id IN ({marks})

-- name: purge_event_link
DELETE FROM event_runs WHERE event_id = ? AND run_id = ?

-- name: purge_floor
-- A call in flight may yet ask to wait for an event that arrived since it started (the
-- engine's early_event), and it started after its run was created.
SELECT min(r.created_at) FROM queue q JOIN runs r ON r.id = q.run_id WHERE q.lease IS NOT NULL

-- name: purge_old_events
-- Events that arrived before the cutoff, that no run refers to, and that no waiting run
-- could still be matched with: a listener is younger than its run, so an event older than
-- every run waiting for its name is out of every listener's reach.
SELECT e.internal_id FROM events e
WHERE e.received_at < ?
AND NOT EXISTS (SELECT 1 FROM event_runs l WHERE l.event_id = e.internal_id)
AND NOT EXISTS (
    SELECT 1 FROM listeners w JOIN runs r ON r.id = w.run_id
    WHERE w.event = e.name AND r.created_at <= e.received_at
)
ORDER BY e.received_at LIMIT ?

-- name: purge_events_of
-- The same test for the events of the runs a batch deleted.
SELECT e.internal_id FROM events e
WHERE e.internal_id IN ({marks}) AND e.received_at < ?
AND NOT EXISTS (SELECT 1 FROM event_runs l WHERE l.event_id = e.internal_id)
AND NOT EXISTS (
    SELECT 1 FROM listeners w JOIN runs r ON r.id = w.run_id
    WHERE w.event = e.name AND r.created_at <= e.received_at
)

-- name: purge_event_rows
DELETE FROM events WHERE internal_id IN ({marks})

-- name: purge_skips
DELETE FROM skips WHERE event_id IN ({marks})

-- name: skip_sets_of_events
-- The ingest refusals that name the events about to go: each loses them, or goes with them.
SELECT id, function_slug, reason, event_ids FROM skip_sets
WHERE id IN (SELECT skip_set FROM events WHERE internal_id IN ({marks}))

-- name: shrink_skip_set
UPDATE skip_sets SET event_ids = ? WHERE id = ? AND function_slug = ? AND reason = ?

-- name: drop_skip_set
DELETE FROM skip_sets WHERE id = ? AND function_slug = ? AND reason = ?

-- name: purge_keys
-- Expired keys guard nothing (reserve_key overwrites them); the oldest go first.
DELETE FROM run_keys WHERE (function_slug, key) IN (
    SELECT function_slug, key FROM run_keys WHERE expires_at < ? ORDER BY expires_at LIMIT ?
)
