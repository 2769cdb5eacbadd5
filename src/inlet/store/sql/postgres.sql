-- PostgreSQL's own text for names in queries.sql. Claims lock the rows they read, and
-- skip rows another process has locked: two processes never lease one item.

-- name: due_timers
SELECT id, run_id, kind, step_id, due_at, attempt, join_, name, payload, ckeys FROM queue
WHERE kind = 'timer' AND due_at <= ? ORDER BY due_at, id LIMIT ?
FOR UPDATE SKIP LOCKED

-- name: due_items
SELECT id, run_id, kind, step_id, due_at, attempt, join_, name, payload, ckeys FROM queue
WHERE rank <= ? AND due_at <= ? ORDER BY rank, id LIMIT ?
FOR UPDATE SKIP LOCKED
