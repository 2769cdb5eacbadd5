-- Inlet schema 3 (PostgreSQL): API tokens for `inlet start`. Only a token's SHA-256 is
-- kept; the token itself is shown once, by `inlet tokens create`.
CREATE TABLE tokens (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL DEFAULT '',
    role          TEXT NOT NULL,
    hash          TEXT NOT NULL,
    created_at    DOUBLE PRECISION NOT NULL,
    last_used_at  DOUBLE PRECISION,
    revoked_at    DOUBLE PRECISION
);
CREATE UNIQUE INDEX tokens_hash ON tokens (hash);
