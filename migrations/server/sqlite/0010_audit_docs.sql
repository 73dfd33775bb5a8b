-- Rounds district server on SQLite, schema 10: the audit trail's index by document
-- (docs/audit.md). One row per entry and document its `detail.docs` names (an id, or for a
-- push an object with an `id`), written with the entry, so a record's entries (its export
-- bundle, the console's audit search by record) are found without reading the whole trail.
-- Derived from the bodies, which stay the record; append-only like them.
CREATE TABLE audit_docs (
    doc_id  TEXT NOT NULL,
    seq     INTEGER NOT NULL REFERENCES audit_log (seq),
    PRIMARY KEY (doc_id, seq)
) STRICT, WITHOUT ROWID;

INSERT OR IGNORE INTO audit_docs (doc_id, seq)
SELECT CASE d.type WHEN 'text' THEN d.value ELSE json_extract(d.value, '$.id') END, a.seq
FROM audit_log a, json_each(a.body, '$.detail.docs') d
WHERE d.type = 'text' OR json_extract(d.value, '$.id') IS NOT NULL;

CREATE TRIGGER audit_docs_no_update BEFORE UPDATE ON audit_docs
BEGIN
    SELECT RAISE(ABORT, 'the audit trail is append-only');
END;

CREATE TRIGGER audit_docs_no_delete BEFORE DELETE ON audit_docs
BEGIN
    SELECT RAISE(ABORT, 'the audit trail is append-only');
END;
