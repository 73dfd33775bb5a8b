-- Rounds district server on PostgreSQL, schema 4: the audit trail (crates/server/src/audit.rs,
-- docs/audit.md). Append-only and hash-chained: each entry's hash is SHA-256 over a label, the
-- hash of the entry before it (`prev`) and its `body` (the JSON text of the entry, kept byte
-- for byte); the other columns repeat the body's fields for searching. `audit_head` holds the
-- last position and hash: an append locks it, so appends from several server processes form
-- one chain. Nothing updates or deletes an entry: the trigger refuses it.
CREATE TABLE audit_log (
    seq        BIGINT PRIMARY KEY,
    at         BIGINT NOT NULL,
    kind       TEXT NOT NULL,
    person_id  TEXT,
    device_id  TEXT,
    body       TEXT NOT NULL,
    prev       BYTEA NOT NULL,
    hash       BYTEA NOT NULL
);

CREATE INDEX audit_log_person ON audit_log (person_id, seq);
CREATE INDEX audit_log_kind ON audit_log (kind, seq);

CREATE TABLE audit_head (
    only_row   BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (only_row),
    seq        BIGINT NOT NULL,
    hash       BYTEA NOT NULL
);
INSERT INTO audit_head (seq, hash) VALUES (0, '\x0000000000000000000000000000000000000000000000000000000000000000');

CREATE FUNCTION audit_log_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
