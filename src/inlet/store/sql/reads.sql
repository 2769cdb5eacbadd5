-- The read model's statements (inlet.store.queries, served by inlet.store.sql.reads):
-- what the REST API, GraphQL and the dashboard read. Same conventions as queries.sql.

-- name: list_apps
SELECT url, app_id, sdk, framework, checksum, synced_at, error FROM apps ORDER BY url

-- name: list_functions
SELECT slug, app_url, name, url, triggers, retries, config FROM functions ORDER BY slug

-- name: skips
-- Its refusals by a flow-control gate (skips), then by its ingest (the skip set it names,
-- rows of which list it; PostgreSQL's instr is schema 12's).
SELECT function_slug, reason FROM skips WHERE event_id = ?
UNION ALL
SELECT s.function_slug, s.reason FROM events e JOIN skip_sets s ON s.id = e.skip_set
WHERE e.internal_id = ? AND instr(s.event_ids, '"' || e.internal_id || '"') > 0
ORDER BY 1

-- name: list_events
SELECT internal_id, body, received_at FROM events ORDER BY internal_id DESC LIMIT ?

-- name: list_events_named
SELECT internal_id, body, received_at FROM events WHERE name = ?
ORDER BY internal_id DESC LIMIT ?

-- name: events_page
-- {where} is built from the filters the caller set (each a fixed clause).
SELECT internal_id, body, received_at FROM events {where} ORDER BY internal_id DESC LIMIT ?

-- name: events_by_id
SELECT internal_id, body, received_at FROM events WHERE internal_id IN ({marks})

-- name: stuck_runs
SELECT id, function_slug, event_ids, status, created_at, started_at, ended_at, output,
    error, request_version, force_plan, state_size, step_count
FROM runs
WHERE status IN ('QUEUED', 'RUNNING') AND created_at < ?
    AND NOT EXISTS (
        SELECT 1 FROM queue WHERE queue.run_id = runs.id
            AND (queue.kind != 'timer' OR queue.step_id NOT LIKE 'timeout:%')
    )
    AND NOT EXISTS (
        SELECT 1 FROM listeners WHERE listeners.run_id = runs.id AND listeners.kind != 'cancel'
    )
ORDER BY id LIMIT ?

-- name: attempt_counts
SELECT run_id, count(*) FROM attempts WHERE run_id IN ({marks}) GROUP BY run_id

-- name: run_listeners
SELECT kind, event, expression, step_id, expires_at FROM listeners WHERE run_id = ?

-- name: run_timers
SELECT step_id, due_at, name, payload FROM queue WHERE run_id = ? AND kind = 'timer'

-- name: flow_in_flight
-- ? ? ?: the function's own concurrency key, then the bounds of its keyed ones.
SELECT key, count(*) FROM inflight WHERE key = ? OR (key > ? AND key < ?) GROUP BY key

-- name: flow_waiting
SELECT parked, count(*) FROM queue
WHERE parked = ? OR (parked > ? AND parked < ?) GROUP BY parked

-- name: flow_delayed
SELECT count(*) FROM runs JOIN queue ON queue.run_id = runs.id
WHERE runs.function_slug = ? AND runs.status = 'QUEUED' AND queue.kind = 'discovery'
    AND queue.lease IS NULL AND queue.parked IS NULL AND queue.due_at > ?

-- name: flow_gates
SELECT gate, key, tat, run_id, size FROM flow_state WHERE function_slug = ? ORDER BY gate, key

-- name: runs_for_event
SELECT id, function_slug, event_ids, status, created_at, started_at, ended_at, output,
    error, request_version, force_plan, state_size, step_count
FROM runs WHERE id IN (SELECT run_id FROM event_runs WHERE event_id = ?) ORDER BY id

-- name: list_runs
-- {where} is built from the filters the caller set (each a fixed clause).
SELECT id, function_slug, event_ids, status, created_at, started_at, ended_at, output,
    error, request_version, force_plan, state_size, step_count
FROM runs {where} ORDER BY id DESC LIMIT ?

-- name: history
SELECT run_id, item_id, step_id, attempt, started_at, ended_at, outcome, status_code, name,
    output, error, op_step, due_at
FROM attempts WHERE run_id = ? ORDER BY seq

-- name: runs_matching_text
-- Runs whose id, function, output or error contains a text (a dashboard search: it reads
-- every run, so it is only ever combined with the caller's other filters).
SELECT id FROM runs
WHERE id LIKE ? ESCAPE '\' OR function_slug LIKE ? ESCAPE '\'
    OR CAST(output AS TEXT) LIKE ? ESCAPE '\' OR CAST(error AS TEXT) LIKE ? ESCAPE '\'

-- name: run_counts
SELECT status, count(*) FROM runs {where} GROUP BY status

-- name: run_times
SELECT function_slug, status, created_at, started_at, ended_at FROM runs {where}
ORDER BY created_at LIMIT ?

-- name: queue_due
-- Per function: items due at ? (a range of queue_due). A leased item is due when its lease
-- expires and a parked one never (both move due_at), so neither counts until a worker may
-- take it.
SELECT runs.function_slug, count(*), min(queue.due_at)
FROM queue JOIN runs ON runs.id = queue.run_id
WHERE queue.due_at <= ?
GROUP BY runs.function_slug

-- name: queue_parked
SELECT runs.function_slug, count(*)
FROM queue JOIN runs ON runs.id = queue.run_id
WHERE queue.parked IS NOT NULL
GROUP BY runs.function_slug

-- name: queue_waiting
-- Runs that only wait (timers, no call to make): the timers (queue_timers), each run's
-- other items probed by queue_run_step.
SELECT runs.function_slug, count(DISTINCT queue.run_id)
FROM queue JOIN runs ON runs.id = queue.run_id
WHERE queue.kind = 'timer' AND NOT EXISTS (
    SELECT 1 FROM queue AS work WHERE work.run_id = queue.run_id AND work.kind <> 'timer')
GROUP BY runs.function_slug

-- name: queue_delayed
-- Runs not started whose first call is due later (runs_status, then queue_run_step): as
-- flow_delayed, for every function at once.
SELECT runs.function_slug, count(*) FROM runs JOIN queue ON queue.run_id = runs.id
WHERE runs.status = 'QUEUED' AND queue.kind = 'discovery' AND queue.lease IS NULL
    AND queue.parked IS NULL AND queue.due_at > ?
GROUP BY runs.function_slug

-- name: active_runs
SELECT function_slug, status, count(*) FROM runs WHERE status IN ('QUEUED', 'RUNNING')
GROUP BY function_slug, status
