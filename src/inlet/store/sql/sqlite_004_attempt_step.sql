-- Inlet schema 4 (SQLite): which step a call request produced or failed (its hashed id),
-- so that a run's history can be read step by step.
ALTER TABLE attempts ADD COLUMN op_step TEXT NOT NULL DEFAULT '';
