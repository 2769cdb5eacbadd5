-- Inlet schema 3 (SQLite): where each cron schedule got to. Fires themselves are guarded by
-- their run keys (cron:<fn>:<time>); the cursor says which fires are still to be made.
CREATE TABLE cron_cursors (
    function_slug  TEXT NOT NULL,
    expression     TEXT NOT NULL,
    last_fire      REAL NOT NULL,
    PRIMARY KEY (function_slug, expression)
) WITHOUT ROWID;
