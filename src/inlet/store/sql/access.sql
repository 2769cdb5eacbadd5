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

-- Dashboard users (a salted scrypt hash of the password) and sessions (the SHA-256 of
-- the cookie's id): logout and expiry hold across processes sharing the database.

-- name: insert_user
INSERT INTO users (id, name, role, password, created_at) VALUES (?, ?, ?, ?, ?)

-- name: user_by_name
SELECT id, name, role, password, created_at FROM users WHERE name = ?

-- name: list_users
SELECT id, name, role, password, created_at FROM users ORDER BY name, id

-- name: delete_user
DELETE FROM users WHERE id = ?

-- name: delete_subject_sessions
DELETE FROM sessions WHERE subject = ?

-- name: insert_session
INSERT INTO sessions (hash, subject, label, role, created_at, expires_at)
VALUES (?, ?, ?, ?, ?, ?)

-- name: session_by_hash
SELECT hash, subject, label, role, created_at, expires_at FROM sessions
WHERE hash = ? AND expires_at > ?

-- name: extend_session
-- Only ever forward: two processes may slide the same session out of order.
UPDATE sessions SET expires_at = ? WHERE hash = ? AND expires_at < ?

-- name: delete_session
DELETE FROM sessions WHERE hash = ?

-- name: delete_expired_sessions
DELETE FROM sessions WHERE expires_at <= ?
