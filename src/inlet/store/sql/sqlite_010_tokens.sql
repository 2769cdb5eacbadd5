-- Inlet schema 10 (SQLite): API tokens for `inlet start`. Only a token's SHA-256 is kept;
-- the token itself is shown once, by `inlet tokens create`.
CREATE TABLE tokens (
    id            TEXT NOT NULL PRIMARY KEY,
    name          TEXT NOT NULL DEFAULT '',
    role          TEXT NOT NULL,
    hash          TEXT NOT NULL,
    created_at    REAL NOT NULL,
    last_used_at  REAL,
    revoked_at    REAL
);
CREATE UNIQUE INDEX tokens_hash ON tokens (hash);
