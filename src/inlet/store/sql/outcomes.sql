-- What the events of a page led to (inlet.store.outcomes). Same conventions as queries.sql;
-- {marks} is one ? per event id.

-- name: runs_of_events
SELECT l.event_id, r.id, r.function_slug, r.event_ids, r.status, r.created_at, r.started_at,
    r.ended_at, r.output, r.error, r.request_version, r.force_plan, r.state_size, r.step_count
FROM event_runs l JOIN runs r ON r.id = l.run_id
WHERE l.event_id IN ({marks})

-- name: skips_of_events
-- As reads.sql's skips, for each of the events: their ids are bound twice.
SELECT event_id, function_slug, reason FROM skips WHERE event_id IN ({marks})
UNION ALL
SELECT e.internal_id, s.function_slug, s.reason
FROM events e JOIN skip_sets s ON s.id = e.skip_set
WHERE e.internal_id IN ({marks}) AND instr(s.event_ids, '"' || e.internal_id || '"') > 0
