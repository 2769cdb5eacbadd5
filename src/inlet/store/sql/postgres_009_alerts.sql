-- Inlet schema 9 (PostgreSQL): alerts. An alert fires once per (rule, subject) until it
-- resolves (the unique partial index keeps a second firing out); each change of state
-- leaves one outbox row per webhook target, delivered until a 2xx and kept across restarts.
CREATE TABLE alerts (
    id           TEXT PRIMARY KEY,
    rule         TEXT NOT NULL,
    subject      TEXT NOT NULL,
    state        TEXT NOT NULL,
    fired_at     DOUBLE PRECISION NOT NULL,
    resolved_at  DOUBLE PRECISION,
    summary      TEXT NOT NULL
);
CREATE UNIQUE INDEX alerts_firing ON alerts (rule, subject) WHERE state = 'firing';
CREATE INDEX alerts_fired ON alerts (fired_at);

CREATE TABLE alert_outbox (
    id            TEXT PRIMARY KEY,
    alert_id      TEXT NOT NULL,
    kind          TEXT NOT NULL,
    target        TEXT NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    next_at       DOUBLE PRECISION NOT NULL,
    delivered_at  DOUBLE PRECISION,
    last_error    TEXT
);
-- What is still owed, soonest first: the delivery loop's only scan.
CREATE INDEX alert_outbox_due ON alert_outbox (next_at) WHERE delivered_at IS NULL;
