-- PostgreSQL's own text for names in the shared files (queries.sql, reads.sql,
-- access.sql). Claims lock the rows they read, and skip rows another process has
-- locked: two processes never lease one item. A run read to be changed is locked until
-- the transaction ends. Lists are arrays (`= ANY(?)`). The statements written for many
-- rows at once (`write_rows`) take them as one JSON array of rows (`rows.json_rows`), a
-- row's values in its columns' order and bytes as strings: one statement per batch, and
-- psycopg sends one string where it adapted every element of a column's array in Python
-- (bench/pg_params.py, 100 rows a statement: 0.4 us of the server's CPU a row against
-- 9.2, and PostgreSQL's 3.3 against 6.7).

-- name: due_timers
SELECT id, run_id, kind, step_id, due_at, attempt, join_, name, payload, ckeys FROM queue
WHERE kind = 'timer' AND due_at <= ? ORDER BY due_at, id LIMIT ?
FOR UPDATE SKIP LOCKED

-- name: due_items
-- Other processes may have queued items delayed by a priority: the largest delay is read
-- here, not by a statement of its own.
SELECT id, run_id, kind, step_id, due_at, attempt, join_, name, payload, ckeys FROM queue
WHERE rank <= ? + (SELECT max_delay FROM queue_horizon WHERE id = 1) AND due_at <= ?
ORDER BY rank, id LIMIT ?
FOR UPDATE SKIP LOCKED

-- name: runs_matching_text
-- Output and error are JSON bytes; ILIKE is PostgreSQL's case-insensitive LIKE.
SELECT id FROM runs
WHERE id ILIKE ? ESCAPE '\' OR function_slug ILIKE ? ESCAPE '\'
    OR convert_from(output, 'UTF8') ILIKE ? ESCAPE '\'
    OR convert_from(error, 'UTF8') ILIKE ? ESCAPE '\'

-- name: lock_run_row
SELECT id, function_slug, event_ids, status, created_at, started_at, ended_at, output,
    error, request_version, force_plan, state_size, step_count, priority, ckeys
FROM runs WHERE id = ? FOR NO KEY UPDATE

-- name: run_exists
-- Only read before a run's metadata is changed: the row stays locked until then.
SELECT 1 FROM runs WHERE id = ? FOR NO KEY UPDATE

-- name: runs_by_ids
SELECT id, function_slug, event_ids, status, created_at, started_at, ended_at, output,
    error, request_version, force_plan, state_size, step_count, priority, ckeys
FROM runs WHERE id = ANY(?::text[])

-- name: memos_of_runs
SELECT run_id, step_id, value, name, op, seq, recorded_at FROM memos
WHERE run_id = ANY(?::text[]) ORDER BY run_id, seq

-- name: start_runs
-- The runs are found by their ids alone; the status is checked on each row found, written
-- so that no index can serve it. Planned while few runs were queued, as a plan is made on
-- a statement's first runs, `status = 'QUEUED'` looked the narrower condition: the plan
-- read every QUEUED entry of runs_status and then picked the ids out, 22 ms a claim at
-- 100,000 queued runs (bench W5; a join on the ids hashed them all the same).
UPDATE runs SET status = 'RUNNING', started_at = ?
WHERE id = ANY(?::text[]) AND (status = 'QUEUED') IS TRUE

-- name: lease
-- The ids also probe the queue's key as an array: a generic plan (STORE_SETTINGS) made while
-- the queue was small joins the JSON rows by hashing the whole table, and keeps doing so.
WITH v AS (SELECT r FROM jsonb_array_elements(?::jsonb) AS r)
UPDATE queue SET lease = v.r->>0, due_at = (v.r->>1)::float8, rank = (v.r->>2)::float8
FROM v
WHERE queue.id = ANY (ARRAY(SELECT r->>3 FROM v)) AND queue.id = v.r->>3

-- name: lease_if_first
-- due_items' first row, locked as it locks it, if it is this one.
UPDATE queue SET lease = ?, due_at = ?, rank = ?
WHERE id = ? AND id = (
    SELECT id FROM queue
    WHERE rank <= ? + (SELECT max_delay FROM queue_horizon WHERE id = 1) AND due_at <= ?
    ORDER BY rank, id LIMIT 1
    FOR UPDATE SKIP LOCKED
)

-- name: hold_slot
INSERT INTO inflight (key, item_id)
SELECT r->>0, r->>1 FROM jsonb_array_elements(?::jsonb) AS r
ON CONFLICT DO NOTHING

-- name: insert_skips
INSERT INTO skip_sets (id, function_slug, reason, at, event_ids)
SELECT r->>0, r->>1, r->>2, (r->>3)::float8, r->>4 FROM jsonb_array_elements(?::jsonb) AS r
ON CONFLICT DO NOTHING

-- name: link_event
INSERT INTO event_runs (event_id, run_id)
SELECT r->>0, r->>1 FROM jsonb_array_elements(?::jsonb) AS r
ON CONFLICT DO NOTHING

-- name: unlink_event
WITH v AS (SELECT r FROM jsonb_array_elements(?::jsonb) AS r)
DELETE FROM event_runs e USING v
WHERE e.event_id = ANY (ARRAY(SELECT r->>0 FROM v)) AND e.event_id = v.r->>0
    AND e.run_id = v.r->>1

-- name: insert_events
INSERT INTO events (internal_id, name, body, received_at, skip_set)
SELECT r->>0, r->>1, convert_to(r->>2, 'UTF8'), (r->>3)::float8, r->>4
FROM jsonb_array_elements(?::jsonb) AS r
ON CONFLICT DO NOTHING RETURNING internal_id

-- name: retry_item_recorded
WITH held AS (
    UPDATE queue SET due_at = ?, rank = ?, orank = ?, attempt = attempt + 1, lease = NULL
    WHERE id = ? AND lease = ? RETURNING id
)
INSERT INTO attempts (run_id, item_id, step_id, attempt, started_at, ended_at, outcome,
    status_code, name, output, error, op_step, due_at)
SELECT ?::text, ?::text, ?::text, ?::int4, ?::float8, ?::float8, ?::text, ?::int4, ?::text,
    ?::bytea, ?::text, ?::text, ?::float8
FROM held

-- name: drop_run_work
-- A run that ended: its items and listeners in one statement; the items that were leased.
WITH items AS (DELETE FROM queue WHERE run_id = ? RETURNING id, lease),
    gone AS (DELETE FROM listeners WHERE run_id = ?)
SELECT id FROM items WHERE lease IS NOT NULL

-- name: reserve_keys
-- reserve_key for many runs (their pairs distinct); the runs that hold their key now.
INSERT INTO run_keys (function_slug, key, run_id, expires_at)
SELECT r->>0, r->>1, r->>2, (r->>3)::float8 FROM jsonb_array_elements(?::jsonb) AS r
ON CONFLICT (function_slug, key) DO UPDATE SET
    run_id = excluded.run_id, expires_at = excluded.expires_at
WHERE run_keys.expires_at <= ?
RETURNING run_id

-- name: insert_run
INSERT INTO runs (id, function_slug, event_ids, status, created_at, priority, ckeys,
    singleton_key)
SELECT r->>0, r->>1, convert_to(r->>2, 'UTF8'), r->>3, (r->>4)::float8, (r->>5)::float8,
    convert_to(r->>6, 'UTF8'), r->>7
FROM jsonb_array_elements(?::jsonb) AS r

-- name: enqueue
INSERT INTO queue (id, run_id, kind, step_id, due_at, attempt, join_, name, payload, rank,
    orank, ckeys)
SELECT r->>0, r->>1, r->>2, r->>3, (r->>4)::float8, 0, (r->>5)::int4, r->>6,
    convert_to(r->>7, 'UTF8'), (r->>8)::float8, (r->>9)::float8, convert_to(r->>10, 'UTF8')
FROM jsonb_array_elements(?::jsonb) AS r
ON CONFLICT DO NOTHING

-- name: pending_counts
SELECT run_id, count(*) FROM queue WHERE run_id = ANY(?::text[]) GROUP BY run_id

-- name: runs_with_memos
-- runs_by_ids, memos_of_runs and pending_counts in one statement: each run's memos as
-- arrays in their order.
SELECT r.id, r.function_slug, r.event_ids, r.status, r.created_at, r.started_at,
    r.ended_at, r.output, r.error, r.request_version, r.force_plan, r.state_size,
    r.step_count, r.priority, r.ckeys,
    m.steps, m.vals, m.names, m.ops, m.seqs, m.ats,
    (SELECT count(*) FROM queue q WHERE q.run_id = r.id)
FROM runs r LEFT JOIN LATERAL (
    SELECT array_agg(step_id ORDER BY seq) AS steps, array_agg(value ORDER BY seq) AS vals,
        array_agg(name ORDER BY seq) AS names, array_agg(op ORDER BY seq) AS ops,
        array_agg(seq ORDER BY seq) AS seqs, array_agg(recorded_at ORDER BY seq) AS ats
    FROM memos WHERE memos.run_id = r.id
) m ON true
WHERE r.id = ANY(?::text[])

-- name: consume_item_ahead
-- The lease check, the attempt's history row and the call's memos in one statement: the
-- memos whose step has none yet, numbered on from the run's step count in order, stored
-- only while the run has not ended (what inserting them one at a time would store); the
-- lease held (1 or 0) and how many memos were stored. Needing no answer from the run's
-- row, it can go out before that row is read, and one round trip answers both. A call's
-- one memo (a step's output) goes as values (NULLs for none, at a run's end), several as
-- one JSON array: as one-element arrays, or as JSON, psycopg or PostgreSQL paid more for
-- the usual one (bench/pg_params.py; the sixth pass in docs/performance.md).
WITH held AS (DELETE FROM queue WHERE id = ? AND lease = ? RETURNING id),
    recorded AS (
        INSERT INTO attempts (run_id, item_id, step_id, attempt, started_at, ended_at,
            outcome, status_code, name, output, error, op_step, due_at)
        SELECT ?::text, ?::text, ?::text, ?::int4, ?::float8, ?::float8, ?::text, ?::int4,
            ?::text, ?::bytea, ?::text, ?::text, ?::float8
        FROM held
    ),
    alive AS (
        SELECT step_count FROM runs
        WHERE id = ?::text AND status IN ('QUEUED', 'RUNNING') AND EXISTS (SELECT 1 FROM held)
    ),
    given AS (
        SELECT m.step_id, m.value, m.name, m.op, m.n
        FROM (
            VALUES (?::text, ?::bytea, ?::text, ?::text, 0::int8)
            UNION ALL
            SELECT r->>0, convert_to(r->>1, 'UTF8'), r->>2, r->>3, n
            FROM jsonb_array_elements(?::jsonb) WITH ORDINALITY AS j(r, n)
        ) AS m(step_id, value, name, op, n)
        WHERE m.step_id IS NOT NULL AND EXISTS (SELECT 1 FROM alive) AND NOT EXISTS (
            SELECT 1 FROM memos x WHERE x.run_id = ?::text AND x.step_id = m.step_id
        )
    ),
    stored AS (
        INSERT INTO memos (run_id, step_id, seq, value, name, op, recorded_at)
        SELECT ?::text, step_id, (SELECT step_count FROM alive)
            + (row_number() OVER (ORDER BY n))::int4 - 1, value, name, op, ?::float8
        FROM given ON CONFLICT DO NOTHING RETURNING 1
    )
SELECT (SELECT count(*) FROM held), (SELECT count(*) FROM stored)

-- name: consume_items
-- consume_item_ahead for the calls a batch completes, one JSON array of them (each the
-- item's id and lease, the attempt's history row as attempt_row, the run's id, when its
-- memos were recorded and its memos as [step_id, value, name, op]): the batch's store
-- thread sends one statement where it sent one a call (``pg_adapter.Adapter.gather``).
-- Each call's rows are its own run's, as the calls' runs are distinct (the store thread
-- gathers only calls sent ahead); per call, in order: whether its lease held, how many
-- of its memos were stored (consume_item_ahead's answer, which a call alone is sent).
WITH c AS (
        SELECT n, r->>0 AS item_id, r->>1 AS lease, r->>15 AS run_id, r
        FROM jsonb_array_elements(?::jsonb) WITH ORDINALITY AS j(r, n)
    ),
    held AS (
        DELETE FROM queue q USING c
        WHERE q.id = ANY (ARRAY(SELECT item_id FROM c)) AND q.id = c.item_id
            AND q.lease = c.lease
        RETURNING c.n, c.run_id, c.r
    ),
    recorded AS (
        INSERT INTO attempts (run_id, item_id, step_id, attempt, started_at, ended_at,
            outcome, status_code, name, output, error, op_step, due_at)
        SELECT r->>2, r->>3, r->>4, (r->>5)::int4, (r->>6)::float8, (r->>7)::float8, r->>8,
            (r->>9)::int4, r->>10, convert_to(r->>11, 'UTF8'), r->>12, r->>13,
            (r->>14)::float8
        FROM held
    ),
    alive AS (
        SELECT h.n, h.run_id, h.r, s.step_count FROM held h, LATERAL (
            SELECT step_count FROM runs
            WHERE runs.id = h.run_id AND runs.status IN ('QUEUED', 'RUNNING') OFFSET 0
        ) s
    ),
    given AS (
        SELECT a.n, a.run_id, a.step_count, m->>0 AS step_id, convert_to(m->>1, 'UTF8') AS value,
            m->>2 AS name, m->>3 AS op, k, (a.r->>16)::float8 AS at
        FROM alive a, jsonb_array_elements(a.r->17) WITH ORDINALITY AS x(m, k)
        WHERE NOT EXISTS (
            SELECT 1 FROM memos x WHERE x.run_id = a.run_id AND x.step_id = m->>0 OFFSET 0
        )
    ),
    stored AS (
        INSERT INTO memos (run_id, step_id, seq, value, name, op, recorded_at)
        SELECT run_id, step_id,
            step_count + (row_number() OVER (PARTITION BY n ORDER BY k))::int4 - 1,
            value, name, op, at
        FROM given ON CONFLICT DO NOTHING RETURNING run_id
    )
SELECT EXISTS (SELECT 1 FROM held h WHERE h.n = c.n),
    (SELECT count(*) FROM stored s WHERE s.run_id = c.run_id)
FROM c ORDER BY c.n

-- name: update_run_enqueue
-- A run that goes on: its items queued (enqueue's columns) and its row written at once.
WITH queued AS (
    INSERT INTO queue (id, run_id, kind, step_id, due_at, attempt, join_, name, payload,
        rank, orank, ckeys)
    SELECT r->>0, r->>1, r->>2, r->>3, (r->>4)::float8, 0, (r->>5)::int4, r->>6,
        convert_to(r->>7, 'UTF8'), (r->>8)::float8, (r->>9)::float8, convert_to(r->>10, 'UTF8')
    FROM jsonb_array_elements(?::jsonb) AS r
    ON CONFLICT DO NOTHING
)
UPDATE runs SET status = ?, started_at = ?, ended_at = ?, output = ?, error = ?,
    request_version = ?, force_plan = ?, step_count = ?, state_size = ?
WHERE id = ?

-- name: update_run_enqueue_one
-- update_run_enqueue for the usual single item, its columns as values: psycopg adapts
-- one-element arrays much slower than values (bench/pg_params.py, 11 columns, a
-- transaction each: 91 against 38 µs of the server's CPU), and this runs every step.
WITH queued AS (
    INSERT INTO queue (id, run_id, kind, step_id, due_at, attempt, join_, name, payload,
        rank, orank, ckeys)
    VALUES (?::text, ?::text, ?::text, ?::text, ?::float8, 0, ?::int4, ?::text, ?::bytea,
        ?::float8, ?::float8, ?::bytea)
    ON CONFLICT DO NOTHING
)
UPDATE runs SET status = ?, started_at = ?, ended_at = ?, output = ?, error = ?,
    request_version = ?, force_plan = ?, step_count = ?, state_size = ?
WHERE id = ?

-- name: update_run_lease
-- update_run_enqueue_one and lease_if_first in one statement. The item goes in leased
-- (lease, due_at and rank at the lease's end, as `lease` sets them; orank its rank)
-- when no due item that another transaction has not locked ranks before it: when
-- lease_if_first would find it first. The run's row answers whether it did (1 or 0).
-- Parameters: horizon, now, the item's rank and id; the item's columns; the lease and
-- its end; the run's columns.
WITH ahead AS (
    SELECT id FROM queue
    WHERE rank <= ? + (SELECT max_delay FROM queue_horizon WHERE id = 1) AND due_at <= ?
        AND (rank, id) < (?::float8, ?::text)
    ORDER BY rank, id LIMIT 1
    FOR UPDATE SKIP LOCKED
),
v (id, run_id, kind, step_id, due_at, join_, name, payload, rank, orank, ckeys) AS (
    VALUES (?::text, ?::text, ?::text, ?::text, ?::float8, ?::int4, ?::text, ?::bytea,
        ?::float8, ?::float8, ?::bytea)
),
l (lease, until, first) AS (
    SELECT ?::text, ?::float8, NOT EXISTS (SELECT 1 FROM ahead)
),
queued AS (
    INSERT INTO queue (id, run_id, kind, step_id, due_at, attempt, join_, name, payload,
        rank, orank, ckeys, lease)
    SELECT v.id, v.run_id, v.kind, v.step_id,
        CASE WHEN l.first THEN l.until ELSE v.due_at END, 0, v.join_, v.name, v.payload,
        CASE WHEN l.first THEN l.until ELSE v.rank END, v.orank, v.ckeys,
        CASE WHEN l.first THEN l.lease END
    FROM v, l
    ON CONFLICT DO NOTHING
    RETURNING lease
)
UPDATE runs SET status = ?, started_at = ?, ended_at = ?, output = ?, error = ?,
    request_version = ?, force_plan = ?, step_count = ?, state_size = ?
WHERE id = ?
RETURNING (SELECT count(*) FROM queued WHERE lease IS NOT NULL)

-- name: update_runs_lease
-- update_run_lease for the completions of a batch, one JSON array of them (each the
-- item's columns as queue_row, the lease and its end, the run's columns as run_columns,
-- then horizon and now): sent as one statement (``pg_adapter.Adapter.gather``), each
-- answered in order with whether its item went in leased. Each item's check for due work
-- ranking before it sees what its own statement would have seen, but for the items this
-- statement inserts: as if each had been completed by a transaction of its own (which
-- another process's completions are).
WITH v AS (
        SELECT n, r FROM jsonb_array_elements(?::jsonb) WITH ORDINALITY AS j(r, n)
    ),
    l AS (
        SELECT v.n, v.r, NOT EXISTS (
            SELECT 1 FROM queue
            WHERE rank <= (v.r->>23)::float8 + (SELECT max_delay FROM queue_horizon WHERE id = 1)
                AND due_at <= (v.r->>24)::float8 AND (rank, id) < ((v.r->>8)::float8, v.r->>0)
            ORDER BY rank, id LIMIT 1
            FOR UPDATE SKIP LOCKED
        ) AS first
        FROM v
    ),
    queued AS (
        INSERT INTO queue (id, run_id, kind, step_id, due_at, attempt, join_, name, payload,
            rank, orank, ckeys, lease)
        SELECT r->>0, r->>1, r->>2, r->>3,
            CASE WHEN first THEN (r->>12)::float8 ELSE (r->>4)::float8 END, 0,
            (r->>5)::int4, r->>6, convert_to(r->>7, 'UTF8'),
            CASE WHEN first THEN (r->>12)::float8 ELSE (r->>8)::float8 END,
            (r->>9)::float8, convert_to(r->>10, 'UTF8'), CASE WHEN first THEN r->>11 END
        FROM l
        ON CONFLICT DO NOTHING
        RETURNING run_id, lease
    ),
    updated AS (
        UPDATE runs SET status = v.r->>13, started_at = (v.r->>14)::float8,
            ended_at = (v.r->>15)::float8, output = convert_to(v.r->>16, 'UTF8'),
            error = convert_to(v.r->>17, 'UTF8'), request_version = (v.r->>18)::int4,
            force_plan = (v.r->>19)::int4, step_count = (v.r->>20)::int4,
            state_size = (v.r->>21)::int8
        FROM v
        WHERE runs.id = ANY (ARRAY(SELECT r->>22 FROM v)) AND runs.id = v.r->>22
        RETURNING v.n, runs.id
    )
SELECT EXISTS (
        SELECT 1 FROM updated u JOIN queued q ON q.run_id = u.id
        WHERE u.n = v.n AND q.lease IS NOT NULL
    )::int4
FROM v ORDER BY v.n
