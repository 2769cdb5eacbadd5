-- Inlet schema 11 (PostgreSQL): run metadata. One object of values per (run, step, kind),
-- the run's own under step '' (inlet.store.metadata); read with the run, purged with it.
CREATE TABLE run_metadata (
    run_id      TEXT NOT NULL,
    step_id     TEXT NOT NULL,
    kind        TEXT NOT NULL,
    body        BYTEA NOT NULL,
    updated_at  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (run_id, step_id, kind)
);
