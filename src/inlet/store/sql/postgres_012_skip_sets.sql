-- Inlet schema 12 (PostgreSQL): an ingest's refusals stored once per function and reason
-- (sqlite_019_skip_sets.sql says why). `event_ids` is a JSON array as text: read back by
-- the few readers that expand it, never written twice.
ALTER TABLE events ADD COLUMN skip_set TEXT COLLATE "C";

CREATE TABLE skip_sets (
    id             TEXT COLLATE "C" NOT NULL,
    function_slug  TEXT NOT NULL,
    reason         TEXT NOT NULL,
    at             DOUBLE PRECISION NOT NULL,
    event_ids      TEXT NOT NULL,
    PRIMARY KEY (id, function_slug, reason)
);
CREATE INDEX skip_sets_function ON skip_sets (function_slug, at);
CREATE INDEX skip_sets_at ON skip_sets (at);

-- SQLite's instr (the shared readers find an event in its set's array text with it).
CREATE FUNCTION instr(haystack TEXT, needle TEXT) RETURNS INTEGER
LANGUAGE sql IMMUTABLE STRICT AS 'SELECT strpos(haystack, needle)';

CREATE VIEW refusals AS
SELECT event_id, function_slug, reason, at FROM skips
UNION ALL
SELECT j.value, s.function_slug, s.reason, s.at
FROM skip_sets s CROSS JOIN LATERAL jsonb_array_elements_text(s.event_ids::jsonb) AS j(value);
