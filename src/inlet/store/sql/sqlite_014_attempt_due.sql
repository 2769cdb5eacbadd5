-- Inlet schema 14 (SQLite): each attempt keeps when its item became due, so a run's
-- history tells the time it waited in the queue apart from the time its call took.
ALTER TABLE attempts ADD COLUMN due_at REAL;
