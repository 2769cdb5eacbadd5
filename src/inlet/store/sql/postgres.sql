-- PostgreSQL's own text for names in the shared files (queries.sql, reads.sql,
-- access.sql). Claims lock the rows they read, and skip rows another process has
-- locked: two processes never lease one item.

-- name: due_timers
SELECT id, run_id, kind, step_id, due_at, attempt, join_, name, payload, ckeys FROM queue
WHERE kind = 'timer' AND due_at <= ? ORDER BY due_at, id LIMIT ?
FOR UPDATE SKIP LOCKED

-- name: due_items
SELECT id, run_id, kind, step_id, due_at, attempt, join_, name, payload, ckeys FROM queue
WHERE rank <= ? AND due_at <= ? ORDER BY rank, id LIMIT ?
FOR UPDATE SKIP LOCKED

-- name: runs_matching_text
-- Output and error are JSON bytes; ILIKE is PostgreSQL's case-insensitive LIKE.
SELECT id FROM runs
WHERE id ILIKE ? ESCAPE '\' OR function_slug ILIKE ? ESCAPE '\'
    OR convert_from(output, 'UTF8') ILIKE ? ESCAPE '\'
    OR convert_from(error, 'UTF8') ILIKE ? ESCAPE '\'
