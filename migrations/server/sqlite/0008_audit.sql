-- Rounds district server on SQLite, schema 8: the audit trail (crates/server/src/audit.rs,
-- docs/audit.md). Append-only and hash-chained: each entry's hash is SHA-256 over a label, the
-- hash of the entry before it (`prev`) and its `body` (the JSON text of the entry, kept byte
-- for byte); the other columns repeat the body's fields for searching. Nothing deletes or
-- updates a row: the triggers refuse it, so a slip in the server's own code cannot either.
CREATE TABLE audit_log (
    seq        INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    kind       TEXT NOT NULL,
    person_id  TEXT,
    device_id  TEXT,
    body       TEXT NOT NULL,
    prev       BLOB NOT NULL,
    hash       BLOB NOT NULL
) STRICT;

CREATE INDEX audit_log_person ON audit_log (person_id, seq);
CREATE INDEX audit_log_kind ON audit_log (kind, seq);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit trail is append-only');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit trail is append-only');
END;
