-- The reads behind the stall alerts (inlet.store.stalls). Same conventions as queries.sql.

-- name: quiet_runs
-- Runs in flight with no sign of progress at or after ? (each NOT EXISTS one index range
-- of the run's rows): a run's timeout timers and its cancelOn listeners are no progress.
SELECT r.id, r.function_slug, r.event_ids, r.status, r.created_at, r.started_at, r.ended_at,
    r.output, r.error, r.request_version, r.force_plan, r.state_size, r.step_count,
    (SELECT max(a.ended_at) FROM attempts a WHERE a.run_id = r.id),
    (SELECT max(m.recorded_at) FROM memos m WHERE m.run_id = r.id),
    (SELECT max(q.due_at) FROM queue q WHERE q.run_id = r.id
        AND NOT (q.kind = 'timer' AND q.step_id LIKE 'timeout:%')),
    (SELECT max(l.expires_at) FROM listeners l WHERE l.run_id = r.id AND l.kind != 'cancel'),
    EXISTS (SELECT 1 FROM queue q WHERE q.run_id = r.id AND q.parked IS NOT NULL),
    EXISTS (SELECT 1 FROM queue q WHERE q.run_id = r.id AND q.lease IS NOT NULL
        AND NOT (q.kind = 'timer' AND q.step_id LIKE 'timeout:%'))
FROM runs r
WHERE r.status IN ('QUEUED', 'RUNNING') AND r.created_at < ?
    AND (r.started_at IS NULL OR r.started_at < ?)
    AND NOT EXISTS (SELECT 1 FROM attempts a WHERE a.run_id = r.id AND a.ended_at >= ?)
    AND NOT EXISTS (SELECT 1 FROM memos m WHERE m.run_id = r.id AND m.recorded_at >= ?)
    AND NOT EXISTS (
        SELECT 1 FROM queue q WHERE q.run_id = r.id AND q.due_at >= ?
            AND NOT (q.kind = 'timer' AND q.step_id LIKE 'timeout:%')
    )
    AND NOT EXISTS (
        SELECT 1 FROM listeners l WHERE l.run_id = r.id AND l.kind != 'cancel'
            AND l.expires_at >= ?
    )
ORDER BY r.id LIMIT ?

-- name: skip_tally
-- The window's skips first (skips_at): grouping straight from the table, SQLite's planner
-- prefers walking skips_function in order, which reads every skip ever kept.
-- `refusals`: a gate's skips and an ingest's skip sets, a row each (the condition is
-- pushed into both).
WITH recent AS MATERIALIZED (SELECT event_id, function_slug, reason, at FROM refusals WHERE at >= ?)
SELECT s.function_slug, coalesce(e.name, ''), s.reason, count(*), min(s.at), max(s.at)
FROM recent s LEFT JOIN events e ON e.internal_id = s.event_id
GROUP BY s.function_slug, coalesce(e.name, ''), s.reason
ORDER BY s.function_slug, coalesce(e.name, ''), s.reason

-- name: app_errors_since
SELECT url, error_since FROM apps WHERE error IS NOT NULL AND error_since IS NOT NULL
