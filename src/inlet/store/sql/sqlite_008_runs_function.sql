-- Inlet schema 8 (SQLite): a function's runs, newest first, without scanning every run.
-- The bulk cancel (runs of one function in a time window) and the runs list filtered by
-- function read runs this way; PostgreSQL has had this index since its schema 1.
CREATE INDEX runs_function ON runs (function_slug, id);
