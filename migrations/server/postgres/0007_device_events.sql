-- Rounds district server on PostgreSQL, schema 7: device events received (docs/audit.md). Each
-- event a device reports (an unlock, a wrong PIN, a lockout, an idle or manual lock) becomes
-- one `device_event` entry of the audit trail; this table remembers which of a device's event
-- ids are stored, and as which entry, so a retried send records nothing twice.
CREATE TABLE device_events (
    device_id  TEXT NOT NULL,
    event_id   TEXT NOT NULL,
    seq        BIGINT NOT NULL REFERENCES audit_log (seq),
    PRIMARY KEY (device_id, event_id)
);
