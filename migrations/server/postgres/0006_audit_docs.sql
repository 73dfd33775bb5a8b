-- Rounds district server on PostgreSQL, schema 6: the audit trail's index by document
-- (docs/audit.md). One row per entry and document its `detail.docs` names (an id, or for a
-- push an object with an `id`), written with the entry, so a record's entries (its export
-- bundle, the console's audit search by record) are found without reading the whole trail.
-- Derived from the bodies, which stay the record; append-only like them.
CREATE TABLE audit_docs (
    doc_id  TEXT NOT NULL,
    seq     BIGINT NOT NULL REFERENCES audit_log (seq),
    PRIMARY KEY (doc_id, seq)
);

INSERT INTO audit_docs (doc_id, seq)
SELECT DISTINCT
    CASE jsonb_typeof(d.value) WHEN 'string' THEN d.value #>> '{}' ELSE d.value ->> 'id' END,
    a.seq
FROM audit_log a,
     jsonb_array_elements(CASE jsonb_typeof(a.body::jsonb -> 'detail' -> 'docs')
                          WHEN 'array' THEN a.body::jsonb -> 'detail' -> 'docs'
                          ELSE '[]'::jsonb END) d
WHERE jsonb_typeof(d.value) = 'string' OR d.value ->> 'id' IS NOT NULL;

CREATE TRIGGER audit_docs_no_change BEFORE UPDATE OR DELETE ON audit_docs
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
