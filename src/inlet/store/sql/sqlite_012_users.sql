-- Inlet schema 12 (SQLite): dashboard users and sessions for `inlet start`. A user's
-- password is kept as a salted scrypt hash, a session as the SHA-256 of its cookie's id.
CREATE TABLE users (
    id          TEXT NOT NULL PRIMARY KEY,
    name        TEXT NOT NULL,
    role        TEXT NOT NULL,
    password    TEXT NOT NULL,
    created_at  REAL NOT NULL
);
CREATE UNIQUE INDEX users_name ON users (name);
CREATE TABLE sessions (
    hash        TEXT NOT NULL PRIMARY KEY,
    subject     TEXT NOT NULL,
    label       TEXT NOT NULL DEFAULT '',
    role        TEXT NOT NULL,
    created_at  REAL NOT NULL,
    expires_at  REAL NOT NULL
);
CREATE INDEX sessions_subject ON sessions (subject);
CREATE INDEX sessions_expires ON sessions (expires_at);
