-- Inlet schema 7 (SQLite): due timers are claimed on their own, without waiting for a free
-- call slot (a timer makes no call), so they need their own index.
CREATE INDEX queue_timers ON queue (due_at, id) WHERE kind = 'timer';
