-- Inlet schema 6 (PostgreSQL): operating on functions and runs. A paused function starts no
-- run (the events it skips are recorded in `skips` and can be replayed); a bulk operation
-- replays or cancels the runs of a function page by page, its cursor stored so a restart
-- carries on where it stopped.
CREATE TABLE paused_functions (
    slug       TEXT PRIMARY KEY,
    paused_at  DOUBLE PRECISION NOT NULL
);

CREATE TABLE bulk_ops (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,
    function_slug   TEXT NOT NULL,
    statuses        TEXT NOT NULL,
    created_after   DOUBLE PRECISION,
    created_before  DOUBLE PRECISION NOT NULL,
    name            TEXT NOT NULL DEFAULT '',
    state           TEXT NOT NULL,
    total           INTEGER NOT NULL,
    done            INTEGER NOT NULL DEFAULT 0,
    changed         INTEGER NOT NULL DEFAULT 0,
    cursor          TEXT,
    error           TEXT,
    created_at      DOUBLE PRECISION NOT NULL,
    updated_at      DOUBLE PRECISION NOT NULL
);
CREATE INDEX bulk_ops_state ON bulk_ops (state, created_at);

-- The events a function skipped, newest first: replaying what a paused function missed.
CREATE INDEX skips_function ON skips (function_slug, at);
