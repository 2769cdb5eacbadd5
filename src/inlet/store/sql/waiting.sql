-- The wait counts of /metrics (inlet.store.waiting), read at each scrape.

-- name: wait_counts
-- Sleeps: timers (queue_timers) of a step with no listener (listeners_run), other than a
-- run's own timeouts; then the waits for an event and the invokes, from the listeners.
SELECT runs.function_slug, 'sleep' AS kind, count(*)
FROM queue JOIN runs ON runs.id = queue.run_id
WHERE queue.kind = 'timer' AND queue.step_id NOT LIKE 'timeout:%' AND NOT EXISTS (
    SELECT 1 FROM listeners
    WHERE listeners.run_id = queue.run_id AND listeners.step_id = queue.step_id
        AND listeners.kind <> 'cancel')
GROUP BY runs.function_slug
UNION ALL
SELECT runs.function_slug, listeners.kind, count(*)
FROM listeners JOIN runs ON runs.id = listeners.run_id
WHERE listeners.kind IN ('wait', 'invoke')
GROUP BY runs.function_slug, listeners.kind
