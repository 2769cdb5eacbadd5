-- Inlet schema 15 (SQLite): retention. Finished runs are found by when they ended, for
-- all functions and for one function; events by when they arrived; run keys by expiry, so
-- each batch of deletions reads only what it deletes.
CREATE INDEX runs_ended ON runs (ended_at) WHERE ended_at IS NOT NULL;
CREATE INDEX runs_function_ended ON runs (function_slug, ended_at) WHERE ended_at IS NOT NULL;
CREATE INDEX events_received ON events (received_at);
CREATE INDEX run_keys_expires ON run_keys (expires_at);
