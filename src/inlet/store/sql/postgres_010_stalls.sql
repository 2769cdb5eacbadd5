-- Inlet schema 10 (PostgreSQL): what the stall alerts read. An app's sync error carries the
-- time of the first failure after its last success (an app that was failing before this
-- schema counts from its last success); skips are read by time across functions (events
-- that started no run).
ALTER TABLE apps ADD COLUMN error_since DOUBLE PRECISION;
UPDATE apps SET error_since = synced_at WHERE error IS NOT NULL;
CREATE INDEX skips_at ON skips (at);
