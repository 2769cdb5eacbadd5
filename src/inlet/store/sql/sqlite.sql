-- SQLite's text of the statements each dialect writes its own way: many rows at once as
-- one JSON array of arrays (inlet.store.sql.rows.json_rows), where the answer is needed
-- per row (which events are new, which keys are held) so executemany cannot serve. A
-- statement per row was a release and a retaking of the GIL per row on the store thread,
-- while the event loop holds it for the next requests: in W4's batches the store thread
-- waited for it a third of its time.

-- name: insert_events
INSERT INTO events (internal_id, name, body, received_at, skip_set)
SELECT value ->> 0, value ->> 1, CAST(value ->> 2 AS BLOB), value ->> 3, value ->> 4
FROM json_each(?) WHERE true
ON CONFLICT DO NOTHING RETURNING internal_id

-- name: reserve_keys
-- reserve_key for many runs (their pairs distinct); the runs that hold their key now.
INSERT INTO run_keys (function_slug, key, run_id, expires_at)
SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3 FROM json_each(?) WHERE true
ON CONFLICT (function_slug, key) DO UPDATE SET
    run_id = excluded.run_id, expires_at = excluded.expires_at
WHERE run_keys.expires_at <= ?
RETURNING run_id
