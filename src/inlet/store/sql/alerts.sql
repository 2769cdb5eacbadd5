-- Alerts and their outbox (inlet.store.alerts). Same conventions as queries.sql.

-- name: fire_alert
-- A second firing of the same (rule, subject) meets the unique partial index: no row.
INSERT INTO alerts (id, rule, subject, state, fired_at, resolved_at, summary)
VALUES (?, ?, ?, 'firing', ?, NULL, ?) ON CONFLICT DO NOTHING

-- name: firing_alert
SELECT id FROM alerts WHERE rule = ? AND subject = ? AND state = 'firing'

-- name: resolve_alert
UPDATE alerts SET state = 'resolved', resolved_at = ? WHERE id = ? AND state = 'firing'

-- name: queue_delivery
INSERT INTO alert_outbox (id, alert_id, kind, target, attempts, next_at)
VALUES (?, ?, ?, ?, 0, ?) ON CONFLICT DO NOTHING

-- name: due_deliveries
SELECT o.id, o.kind, o.target, o.attempts, o.next_at, o.delivered_at, o.last_error,
    a.id, a.rule, a.subject, a.state, a.fired_at, a.resolved_at, a.summary
FROM alert_outbox o JOIN alerts a ON a.id = o.alert_id
WHERE o.delivered_at IS NULL AND o.next_at <= ?
ORDER BY o.next_at, o.id LIMIT ?

-- name: mark_delivered
UPDATE alert_outbox SET delivered_at = ?, attempts = attempts + 1
WHERE id = ? AND delivered_at IS NULL

-- name: mark_failed
UPDATE alert_outbox SET last_error = ?, next_at = ?, attempts = attempts + 1
WHERE id = ? AND delivered_at IS NULL

-- name: list_alerts
SELECT id, rule, subject, state, fired_at, resolved_at, summary
FROM alerts ORDER BY fired_at DESC, id DESC LIMIT ?

-- name: list_alerts_in
SELECT id, rule, subject, state, fired_at, resolved_at, summary
FROM alerts WHERE state = ? ORDER BY fired_at DESC, id DESC LIMIT ?

-- name: alert_deliveries
-- {marks} is one ? per alert id.
SELECT id, alert_id, kind, target, attempts, next_at, delivered_at, last_error
FROM alert_outbox WHERE alert_id IN ({marks}) ORDER BY alert_id, id
