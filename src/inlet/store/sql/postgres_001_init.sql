-- Inlet schema 1 (PostgreSQL): the SQLite schema 1-7 in one step. Queue, state and
-- history live in one database that every inlet process shares. Identifiers are ULIDs and
-- hashes compared byte-wise (COLLATE "C"); times are epoch seconds.
CREATE TABLE apps (
    url        TEXT PRIMARY KEY,
    app_id     TEXT NOT NULL,
    sdk        TEXT NOT NULL DEFAULT '',
    framework  TEXT NOT NULL DEFAULT '',
    checksum   TEXT NOT NULL DEFAULT '',
    synced_at  DOUBLE PRECISION NOT NULL DEFAULT 0,
    error      TEXT
);

CREATE TABLE functions (
    slug      TEXT PRIMARY KEY,
    app_url   TEXT NOT NULL,
    name      TEXT NOT NULL,
    url       TEXT NOT NULL,
    triggers  BYTEA NOT NULL,
    retries   INTEGER NOT NULL,
    config    BYTEA NOT NULL
);
CREATE INDEX functions_app ON functions (app_url);

CREATE TABLE events (
    internal_id  TEXT COLLATE "C" PRIMARY KEY,
    name         TEXT NOT NULL,
    body         BYTEA NOT NULL,
    received_at  DOUBLE PRECISION NOT NULL
);
CREATE INDEX events_name ON events (name, internal_id);
CREATE INDEX events_name_received ON events (name, received_at);

CREATE TABLE runs (
    id               TEXT COLLATE "C" PRIMARY KEY,
    function_slug    TEXT NOT NULL,
    event_ids        BYTEA NOT NULL,
    status           TEXT NOT NULL,
    created_at       DOUBLE PRECISION NOT NULL,
    started_at       DOUBLE PRECISION,
    ended_at         DOUBLE PRECISION,
    output           BYTEA,
    error            BYTEA,
    request_version  INTEGER NOT NULL DEFAULT -1,
    force_plan       INTEGER NOT NULL DEFAULT 0,
    state_size       BIGINT NOT NULL DEFAULT 0,
    step_count       INTEGER NOT NULL DEFAULT 0,
    priority         DOUBLE PRECISION NOT NULL DEFAULT 0,
    ckeys            BYTEA,
    singleton_key    TEXT
);
CREATE INDEX runs_function ON runs (function_slug, id);
CREATE INDEX runs_singleton ON runs (function_slug, singleton_key, status)
    WHERE singleton_key IS NOT NULL;

CREATE TABLE event_runs (
    event_id  TEXT COLLATE "C" NOT NULL,
    run_id    TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (event_id, run_id)
);

CREATE TABLE run_keys (
    function_slug  TEXT NOT NULL,
    key            TEXT NOT NULL,
    run_id         TEXT NOT NULL,
    expires_at     DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (function_slug, key)
);

CREATE TABLE memos (
    run_id       TEXT COLLATE "C" NOT NULL,
    step_id      TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    value        BYTEA NOT NULL,
    name         TEXT NOT NULL,
    op           TEXT NOT NULL,
    recorded_at  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (run_id, step_id)
);
CREATE INDEX memos_run_seq ON memos (run_id, seq);

-- Due work. A claim moves due_at to the lease expiry, so an abandoned item comes due
-- again; rank is due_at less the run's priority; a parked item waits for a full key.
CREATE TABLE queue (
    id        TEXT COLLATE "C" PRIMARY KEY,
    run_id    TEXT COLLATE "C" NOT NULL,
    kind      TEXT NOT NULL,
    step_id   TEXT NOT NULL,
    due_at    DOUBLE PRECISION NOT NULL,
    attempt   INTEGER NOT NULL DEFAULT 0,
    join_     INTEGER NOT NULL DEFAULT 1,
    name      TEXT NOT NULL DEFAULT '',
    lease     TEXT,
    payload   BYTEA,
    rank      DOUBLE PRECISION NOT NULL DEFAULT 0,
    orank     DOUBLE PRECISION NOT NULL DEFAULT 0,
    ckeys     BYTEA,
    parked    TEXT
);
CREATE INDEX queue_due ON queue (due_at);
CREATE UNIQUE INDEX queue_run_step ON queue (run_id, kind, step_id);
CREATE INDEX queue_rank ON queue (rank, id);
CREATE INDEX queue_parked ON queue (parked, orank) WHERE parked IS NOT NULL;
CREATE INDEX queue_timers ON queue (due_at, id) WHERE kind = 'timer';

-- How far past its due time a negative priority has put any item: the claim's scan by
-- rank reaches that far. One row; it only grows.
CREATE TABLE queue_horizon (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    max_delay  DOUBLE PRECISION NOT NULL
);
INSERT INTO queue_horizon (id, max_delay) VALUES (1, 0);

CREATE TABLE attempts (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id       TEXT COLLATE "C" NOT NULL,
    item_id      TEXT NOT NULL,
    step_id      TEXT NOT NULL,
    attempt      INTEGER NOT NULL,
    started_at   DOUBLE PRECISION NOT NULL,
    ended_at     DOUBLE PRECISION NOT NULL,
    outcome      TEXT NOT NULL,
    status_code  INTEGER NOT NULL,
    name         TEXT NOT NULL,
    output       BYTEA,
    error        TEXT,
    op_step      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX attempts_run ON attempts (run_id, seq);

CREATE TABLE listeners (
    id           TEXT COLLATE "C" PRIMARY KEY,
    run_id       TEXT COLLATE "C" NOT NULL,
    kind         TEXT NOT NULL,
    event        TEXT COLLATE "C" NOT NULL,
    expression   TEXT,
    index_path   TEXT COLLATE "C" NOT NULL DEFAULT '',
    index_value  TEXT COLLATE "C" NOT NULL DEFAULT '',
    step_id      TEXT NOT NULL DEFAULT '',
    expires_at   DOUBLE PRECISION NOT NULL
);
CREATE INDEX listeners_lookup ON listeners (event, index_path, index_value);
CREATE INDEX listeners_run ON listeners (run_id, step_id);

CREATE TABLE cron_cursors (
    function_slug  TEXT NOT NULL,
    expression     TEXT NOT NULL,
    last_fire      DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (function_slug, expression)
);

CREATE TABLE inflight (
    key      TEXT NOT NULL,
    item_id  TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (key, item_id)
);
CREATE INDEX inflight_item ON inflight (item_id);

CREATE TABLE flow_state (
    function_slug  TEXT NOT NULL,
    gate           TEXT NOT NULL,
    key            TEXT NOT NULL,
    tat            DOUBLE PRECISION,
    run_id         TEXT,
    first_at       DOUBLE PRECISION,
    size           INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (function_slug, gate, key)
);

CREATE TABLE skips (
    event_id       TEXT COLLATE "C" NOT NULL,
    function_slug  TEXT NOT NULL,
    reason         TEXT NOT NULL,
    at             DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (event_id, function_slug)
);
