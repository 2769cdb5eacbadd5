-- Run metadata (inlet.store.sql.metadata): one row per (run, step, kind).

-- name: run_exists
SELECT 1 FROM runs WHERE id = ?

-- name: metadata_of
SELECT step_id, kind, body, updated_at FROM run_metadata WHERE run_id = ?
ORDER BY step_id, kind

-- name: upsert_metadata
INSERT INTO run_metadata (run_id, step_id, kind, body, updated_at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (run_id, step_id, kind) DO UPDATE SET body = excluded.body,
    updated_at = excluded.updated_at

-- name: purge_metadata
DELETE FROM run_metadata WHERE run_id IN ({marks})
