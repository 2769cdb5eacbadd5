-- What the events of a page led to (inlet.store.outcomes). Same conventions as queries.sql;
-- {marks} is one ? per event id.

-- name: runs_of_events
SELECT l.event_id, r.id, r.function_slug, r.event_ids, r.status, r.created_at, r.started_at,
    r.ended_at, r.output, r.error, r.request_version, r.force_plan, r.state_size, r.step_count
FROM event_runs l JOIN runs r ON r.id = l.run_id
WHERE l.event_id IN ({marks})

-- name: skips_of_events
SELECT event_id, function_slug, reason FROM skips WHERE event_id IN ({marks})
