-- Who may use the API and the dashboard: API tokens (only their hashes). Same
-- conventions as queries.sql.

-- name: insert_token
INSERT INTO tokens (id, name, role, hash, created_at) VALUES (?, ?, ?, ?, ?)

-- name: token_by_hash
SELECT id, name, role, hash, created_at, last_used_at, revoked_at FROM tokens WHERE hash = ?

-- name: list_tokens
SELECT id, name, role, hash, created_at, last_used_at, revoked_at FROM tokens
ORDER BY created_at, id

-- name: revoke_token
UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL

-- name: touch_token
-- Only ever forward: two processes may note the same token's use out of order.
UPDATE tokens SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)
