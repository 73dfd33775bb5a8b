-- Rounds district server on PostgreSQL, schema 8: remote wipe (docs/audit.md "Remote wipe"). A
-- device revoked with a wipe keeps `wipe` ('after_push': it may still push what waits on it,
-- then erases itself; 'now': it erases at once) until it reports the wipe (`wiped_at`).
ALTER TABLE devices ADD COLUMN wipe TEXT;
ALTER TABLE devices ADD COLUMN wiped_at BIGINT;
