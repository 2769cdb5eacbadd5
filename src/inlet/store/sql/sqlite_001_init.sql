-- Inlet schema 1 (SQLite). Queue, state and history live in one transactional file.
CREATE TABLE apps (
    url        TEXT PRIMARY KEY,
    app_id     TEXT NOT NULL,
    sdk        TEXT NOT NULL DEFAULT '',
    framework  TEXT NOT NULL DEFAULT '',
    checksum   TEXT NOT NULL DEFAULT '',
    synced_at  REAL NOT NULL DEFAULT 0,
    error      TEXT
);

CREATE TABLE functions (
    slug      TEXT PRIMARY KEY,
    app_url   TEXT NOT NULL,
    name      TEXT NOT NULL,
    url       TEXT NOT NULL,
    triggers  BLOB NOT NULL,
    retries   INTEGER NOT NULL,
    config    BLOB NOT NULL
);
CREATE INDEX functions_app ON functions (app_url);

CREATE TABLE events (
    internal_id  TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    body         BLOB NOT NULL,
    received_at  REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX events_name ON events (name, internal_id);

CREATE TABLE runs (
    id               TEXT PRIMARY KEY,
    function_slug    TEXT NOT NULL,
    event_ids        BLOB NOT NULL,
    status           TEXT NOT NULL,
    created_at       REAL NOT NULL,
    started_at       REAL,
    ended_at         REAL,
    output           BLOB,
    error            BLOB,
    request_version  INTEGER NOT NULL DEFAULT -1,
    force_plan       INTEGER NOT NULL DEFAULT 0,
    state_size       INTEGER NOT NULL DEFAULT 0,
    step_count       INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- Which runs an event started: the REST API's /v1/events/{id}/runs.
CREATE TABLE event_runs (
    event_id  TEXT NOT NULL,
    run_id    TEXT NOT NULL,
    PRIMARY KEY (event_id, run_id)
) WITHOUT ROWID;

-- One run per (function, key) while the key lives: event ids and idempotency keys.
CREATE TABLE run_keys (
    function_slug  TEXT NOT NULL,
    key            TEXT NOT NULL,
    run_id         TEXT NOT NULL,
    expires_at     REAL NOT NULL,
    PRIMARY KEY (function_slug, key)
) WITHOUT ROWID;

-- A step's output is written once: the primary key makes a repeat a no-op.
CREATE TABLE memos (
    run_id       TEXT NOT NULL,
    step_id      TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    value        BLOB NOT NULL,
    name         TEXT NOT NULL,
    op           TEXT NOT NULL,
    recorded_at  REAL NOT NULL,
    PRIMARY KEY (run_id, step_id)
) WITHOUT ROWID;

-- Due work. A claim moves due_at to the lease expiry, so an abandoned item comes due again.
CREATE TABLE queue (
    id        TEXT PRIMARY KEY,
    run_id    TEXT NOT NULL,
    kind      TEXT NOT NULL,
    step_id   TEXT NOT NULL,
    due_at    REAL NOT NULL,
    attempt   INTEGER NOT NULL DEFAULT 0,
    join_     INTEGER NOT NULL DEFAULT 1,
    name      TEXT NOT NULL DEFAULT '',
    lease     TEXT
) WITHOUT ROWID;
CREATE INDEX queue_due ON queue (due_at);
CREATE UNIQUE INDEX queue_run_step ON queue (run_id, kind, step_id);

CREATE TABLE attempts (
    seq          INTEGER PRIMARY KEY,
    run_id       TEXT NOT NULL,
    item_id      TEXT NOT NULL,
    step_id      TEXT NOT NULL,
    attempt      INTEGER NOT NULL,
    started_at   REAL NOT NULL,
    ended_at     REAL NOT NULL,
    outcome      TEXT NOT NULL,
    status_code  INTEGER NOT NULL,
    name         TEXT NOT NULL,
    output       BLOB,
    error        TEXT
);
CREATE INDEX attempts_run ON attempts (run_id, seq);
