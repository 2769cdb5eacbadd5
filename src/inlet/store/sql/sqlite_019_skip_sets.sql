-- Inlet schema 19 (SQLite): an ingest's refusals stored once per function and reason.
-- An event that ten functions listen to and one starts was nine rows of `skips` (each with
-- three index entries, about half of a batch's ingest CPU); the refusals of one ingest
-- transaction are now a row per (function, reason) naming its events as a JSON array, and
-- each event names the set its refusals are in (`events.skip_set`). `skips` keeps the
-- refusals of flow-control gates, one event at a time.
ALTER TABLE events ADD COLUMN skip_set TEXT;

CREATE TABLE skip_sets (
    id             TEXT NOT NULL,
    function_slug  TEXT NOT NULL,
    reason         TEXT NOT NULL,
    at             REAL NOT NULL,
    event_ids      TEXT NOT NULL,
    PRIMARY KEY (id, function_slug, reason)
) WITHOUT ROWID;
CREATE INDEX skip_sets_function ON skip_sets (function_slug, at);
CREATE INDEX skip_sets_at ON skip_sets (at);

-- Every refusal as a row (a gate's, and each event of an ingest's sets): what replays,
-- counts and the stall rules read, a condition on it pushed into each arm.
CREATE VIEW refusals AS
SELECT event_id, function_slug, reason, at FROM skips
UNION ALL
SELECT j.value, s.function_slug, s.reason, s.at FROM skip_sets s, json_each(s.event_ids) j;
