-- Inlet schema 2 (SQLite): timers carry a payload; runs can wait for events.
ALTER TABLE queue ADD COLUMN payload BLOB;

-- A run waiting for an event: a wait, an invoke's result or a cancelOn. index_path and
-- index_value hold one equality term of the condition ('' when there is none), so that an
-- event finds its candidates without evaluating every listener for its name.
CREATE TABLE listeners (
    id           TEXT PRIMARY KEY,
    run_id       TEXT NOT NULL,
    kind         TEXT NOT NULL,
    event        TEXT NOT NULL,
    expression   TEXT,
    index_path   TEXT NOT NULL DEFAULT '',
    index_value  TEXT NOT NULL DEFAULT '',
    step_id      TEXT NOT NULL DEFAULT '',
    expires_at   REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX listeners_lookup ON listeners (event, index_path, index_value);
CREATE INDEX listeners_run ON listeners (run_id, step_id);
