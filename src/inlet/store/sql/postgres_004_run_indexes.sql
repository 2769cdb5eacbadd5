-- Inlet schema 4 (PostgreSQL): the runs list stays fast on a large history.
-- GET /v1/runs reads runs newest first (ORDER BY id DESC) under keyset paging: each filter
-- the list offers gets an index that ends with id, so a page is one index range read
-- backwards, stopping after its last run, however rare the status or deep the page.
-- created_at rides along so that counting runs in a time window reads only this index.
CREATE INDEX runs_status ON runs (status, id, created_at);
CREATE INDEX runs_function_status ON runs (function_slug, status, id);
-- A function's statistics read its runs in a time window: every column they need is in
-- the index (an index-only scan where the visibility map allows).
CREATE INDEX runs_function_created ON runs (function_slug, created_at, status, started_at,
    ended_at);
