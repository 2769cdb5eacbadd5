-- Inlet schema 5 (SQLite): events by name and arrival time, so that a new wait finds the
-- events that arrived while its call was in flight without scanning older ones.
CREATE INDEX events_name_received ON events (name, received_at);
