-- Inlet schema 6 (SQLite): flow control.
-- A run's concurrency keys ([[key, limit], ...]) and priority (seconds sooner) travel with
-- its call items. Items are claimed by rank (due_at less the priority); an item whose key
-- is full is parked (due_at = rank = far future, its rank kept in orank) until an item of
-- that key completes.
ALTER TABLE runs ADD COLUMN priority REAL NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN ckeys BLOB;
ALTER TABLE runs ADD COLUMN singleton_key TEXT;
CREATE INDEX runs_singleton ON runs (function_slug, singleton_key, status)
    WHERE singleton_key IS NOT NULL;
ALTER TABLE queue ADD COLUMN rank REAL NOT NULL DEFAULT 0;
ALTER TABLE queue ADD COLUMN orank REAL NOT NULL DEFAULT 0;
ALTER TABLE queue ADD COLUMN ckeys BLOB;
ALTER TABLE queue ADD COLUMN parked TEXT;
UPDATE queue SET rank = due_at, orank = due_at;
CREATE INDEX queue_rank ON queue (rank);
CREATE INDEX queue_parked ON queue (parked, orank) WHERE parked IS NOT NULL;

-- Calls in flight per concurrency key: what a limit counts.
CREATE TABLE inflight (
    key      TEXT NOT NULL,
    item_id  TEXT NOT NULL,
    PRIMARY KEY (key, item_id)
) WITHOUT ROWID;
CREATE INDEX inflight_item ON inflight (item_id);

-- Per (function, gate, key): a GCRA's theoretical arrival time (throttle, rate limit), or
-- the pending run that collects events (debounce, batch).
CREATE TABLE flow_state (
    function_slug  TEXT NOT NULL,
    gate           TEXT NOT NULL,
    key            TEXT NOT NULL,
    tat            REAL,
    run_id         TEXT,
    first_at       REAL,
    size           INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (function_slug, gate, key)
) WITHOUT ROWID;

-- Why an event did not start a run of a function (rate limited, duplicate, singleton...).
CREATE TABLE skips (
    event_id       TEXT NOT NULL,
    function_slug  TEXT NOT NULL,
    reason         TEXT NOT NULL,
    at             REAL NOT NULL,
    PRIMARY KEY (event_id, function_slug)
) WITHOUT ROWID;
