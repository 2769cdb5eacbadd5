-- Inlet schema 2 (PostgreSQL): a batch buffer counts its payload bytes, so a buffer of
-- 10 MiB starts its run before it has max_size events (the Go server's cap).
ALTER TABLE flow_state ADD COLUMN size_bytes INTEGER NOT NULL DEFAULT 0;
