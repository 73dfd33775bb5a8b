-- Rounds district server on PostgreSQL, schema 2: compacted documents (see docs/storage.md
-- and the SQLite backend's 0006_compaction.sql, which this mirrors).
CREATE TABLE saved_docs (
    doc_id       TEXT PRIMARY KEY REFERENCES documents(id),
    through_seq  BIGINT NOT NULL,
    bytes        BYTEA NOT NULL,
    change_count BIGINT NOT NULL,
    change_bytes BIGINT NOT NULL,
    change_ops   BIGINT NOT NULL
);
CREATE INDEX saved_docs_by_seq ON saved_docs(through_seq);
-- The saved forms are compressed already: stored as they are, not compressed again.
ALTER TABLE saved_docs ALTER COLUMN bytes SET STORAGE EXTERNAL;

ALTER TABLE documents ADD COLUMN changed_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE documents ADD COLUMN loose BIGINT NOT NULL DEFAULT 0;
UPDATE documents SET loose = (SELECT count(*) FROM changes c WHERE c.doc_id = documents.id);
CREATE INDEX documents_loose ON documents(changed_at) WHERE loose > 0;
